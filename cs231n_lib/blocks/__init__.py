"""torch building blocks for the notebooks from 07_pytorch on, each on `config.device()`:

- training: make_loader, train_epoch, evaluate, fit (a plain classifier training loop);
  check_budget, fraction_done, warmup_cosine_lr (the step/seconds budget and warm-up +
  half-cosine schedule of the detection, segmentation and instance trainers); train_steps,
  epoch_batches, predict_in_batches, seeded_adamw_steps (the fixed-step loop, its batch
  sampler, batched eval and the seeded AdamW run of the trainers from 13_3d_vision on)
- counting: count_parameters, count_multiply_adds (also for models on the meta device)
- augmentation: the numpy augmentations of 05_regularization on (N, C, H, W) tensors
- caption_features: feature_extractor, image_features (a small CNN trained on the
  captioned shapes, cached), CaptionFeatureCNN, slot_accuracy
- captioning: TorchCaptioner, train_captioner, greedy_sample (LSTM, GRU or RNN)
- attention: MultiHeadAttention, PositionalEncoding, PatchEmbedding, FeedForward,
  TransformerEncoderLayer, TransformerDecoderLayer, causal_mask (09_transformers)
- transformers: VisionTransformer, CaptioningTransformer (09_transformers)
- segmentation: FCN, SkipFCN (FCN-32s/16s/8s skip fusion), UNet, train_segmenter,
  predict_scores, predict_masks, evaluate_segmenter (11_segmentation)

Imported as modules, since several name their functions alike (detect, train_...):
- boxes: box IoU, NMS, box coding, anchors, RoI pooling and RoI Align in torch (10_detection)
- detection: the single-stage detector (backbone, anchors, target assignment, focal
  objectness, GIoU loss, detect, train_detector) (10_detection)
- two_stage: the Faster R-CNN idea (RPN, proposals, RoI head, detect, train_two_stage)
- instances: a mask head on RoI Align features and a promptable segmenter (11_segmentation)
- model_cache: load_or_train, the read-first, locked, atomic cache in config.data_dir() of
  the models the package trains once (caption_features; 12's sample scorer)
- sample_scorer: the digits classifier that scores generated samples (class coverage,
  confidence, a Frechet distance in its features to the test digits) (12_generative)
- pixelcnn: MaskedConv2d, PixelCNN (masks from a mask_fn), train_pixelcnn (early stopping),
  bits_per_dim, sample (pixel by pixel; completion), binarize (12_generative)
- vae: VAE (MLP; conditional with num_classes), train_vae, evaluate_vae, importance_nll,
  latent_means, decode_latents, generate, sample_gaussian, negative_elbo (12_generative)
- toy2d: ring_centers, ring_of_gaussians, mode_coverage (the 2-D toy of gan and diffusion)
- gan: MLP and DCGAN generators and discriminators, train_gan (with the student's losses, k
  discriminator steps per generator step, snapshots), generate, to_unit, tile,
  decision_surface (12_generative)
- diffusion: linear, cosine and sigmoid beta schedules, make_schedule, PointDenoiser,
  DigitUNet (time and label embeddings, a null label), train_denoiser (EMA),
  sample_ancestral (with the student's p_sample), ddim_sample (12_generative)
- pointnet: PointNet (T-Net input transform, critical points), SetAbstraction and PointNet2
  on precomputed sampling/grouping indices, voxelize, VoxelCNN (conv3d), random_rotations,
  train_classifier (fixed steps, random rotations), predict_proba (votes) (13_3d_vision)
- depth: render_scenes (shaded images and depth maps of data.points objects, a hidden unit per
  scene), log_depth_targets, DepthCNN, train_depth and PoseNet/train_pose (with the student's
  loss and rotation map), random_rotations_within, predict_log_depth, predict_codes,
  abs_rel_after_scale, quaternion_to_matrix (13_3d_vision)
- video: clip classifiers on (N, T, C, H, W): SingleFrame, LateFusion, EarlyFusion, C3D,
  TwoStream (frame differences), CNNRNN (GRU or LSTM), ConvGRUCell and ConvGRU,
  DividedSpaceTimeBlock and SpaceTimeTransformer, SlowFast (time-strided lateral
  connections); make_model, train_video_classifier (mirror_clips: flips with the labels
  swapped), predict_clip_scores, clip_accuracy
  (14_video)
- understanding: ShapesNet and DigitsNet (named conv stages), feature_layers,
  train_classifier (budgets in TRAINING), occlusion_map, fooling_success and fgsm_curve
  (with the student's attacks), class_visualization (jitter, blur, clamp around the
  student's update step), invert_features, nearest_neighbours (15_understanding)
- style: load_photos (the bundled photographs), to_tensor/to_image, RandomFeatures
  (multi-scale random filters), LayerFeatures (a trained network's activations),
  style_transfer (with the student's losses) (15_understanding)
- clip: ImageEncoder (convnet, 2x2-pooled map) and TextEncoder (GRU to <END>, or a mean of
  word embeddings), train_clip (with the student's loss, learned temperature),
  encode_images/encode_texts, prompt ensembles (shape_prompts, colour_prompts,
  encode_prompts), attributes, has_combination, zero_shot_accuracy (with the student's
  similarity), retrieval_recall, same_caption (16_self_supervised)
- contrastive: ContrastiveEncoder (conv stages, pooled h, projector g), augment/two_views
  (05's crop, rotation, jitter plus resized crop, blur, noise; by name), train_simclr (with
  the student's loss), train_supervised, train_dino (ema_update, dino_targets, dino_loss),
  features, label_subset, linear_probe (16_self_supervised)

A block enters the package when a later notebook needs it; the notebook that teaches it
keeps the student's own version in its cells.
"""

from cs231n_lib.blocks.attention import (
    FeedForward,
    MultiHeadAttention,
    PatchEmbedding,
    PositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    causal_mask,
)
from cs231n_lib.blocks.caption_features import (
    CaptionFeatureCNN,
    feature_extractor,
    image_features,
    slot_accuracy,
)
from cs231n_lib.blocks.captioning import TorchCaptioner, greedy_sample, train_captioner
from cs231n_lib.blocks.counting import count_multiply_adds, count_parameters
from cs231n_lib.blocks.segmentation import (
    FCN,
    SkipFCN,
    UNet,
    evaluate_segmenter,
    predict_masks,
    predict_scores,
    train_segmenter,
)
from cs231n_lib.blocks.training import evaluate, fit, make_loader, train_epoch
from cs231n_lib.blocks.transformers import CaptioningTransformer, VisionTransformer

__all__ = [
    "FCN",
    "SkipFCN",
    "UNet",
    "evaluate_segmenter",
    "predict_masks",
    "predict_scores",
    "train_segmenter",
    "CaptionFeatureCNN",
    "CaptioningTransformer",
    "FeedForward",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PositionalEncoding",
    "TorchCaptioner",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "VisionTransformer",
    "causal_mask",
    "count_multiply_adds",
    "count_parameters",
    "evaluate",
    "feature_extractor",
    "fit",
    "greedy_sample",
    "image_features",
    "make_loader",
    "slot_accuracy",
    "train_captioner",
    "train_epoch",
]
