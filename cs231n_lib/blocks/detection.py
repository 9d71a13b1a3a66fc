"""A single-stage detector (YOLO / SSD / RetinaNet style) in torch, and the pieces a
two-stage detector reuses: the backbone, target assignment, the loss terms and detect().

Conventions of cs231n_lib.blocks.boxes: boxes (K, 4) = (x1, y1, x2, y2) in image pixels;
images (N, 3, H, W) floats in [0, 1] (numpy (N, H, W, 3) is accepted where noted).

The detector, in the order of its forward pass:

1. make_backbone: conv-BN-SiLU stages at strides 2, 4, 8, 16 and a top-down path (FPN
   style: 1x1 laterals, nearest upsampling, sums) back to ONE map at stride 4, so a
   24x24 grid on 96x96 images sees both fine detail (6 px objects) and context (40 px).
2. make_anchors: A anchors per cell of that grid (sizes 8-34 px by default, square).
3. DetectionHead: a shared conv tower, then per anchor an objectness logit, num_classes
   class logits and 4 box deltas (encode_boxes' tx, ty, tw, th).
4. assign_targets (training): an anchor is positive for the ground truth it overlaps
   most when that IoU >= pos_iou (0.5), background when its best IoU < neg_iou (0.4),
   ignored in between; and every ground truth also takes the best_per_gt anchors that
   overlap it most, so that a 6 px object whose every anchor has IoU < 0.5 still has
   some (with best_per_gt = 1 the rule of Faster R-CNN's RPN).
5. detection_loss = L_obj + lambda_cls L_cls + lambda_box L_box, the course notes' L_reg +
   lambda L_cls with the objectness split out: L_obj a sigmoid focal loss over positive and
   background anchors (with iou_aware, a positive's target is the IoU of its decoded box
   instead of 1), L_cls cross-entropy over positives, L_box GIoU loss of the decoded
   boxes plus smooth L1 of the deltas, over positives. L_obj is normalized by the
   number of positives, L_cls and L_box are averaged over positives.
6. detect: score = sigmoid(objectness) * softmax(class) for every (anchor, class) pair,
   the pairs above score_threshold decoded, clipped to the image, class-aware NMS, the
   max_detections best kept: per image boxes (K, 4), scores (K,), labels (K,), the
   format of cs231n_lib.metrics.evaluate_detections and coco_map.

train_detector trains it with AdamW, a linear warm-up and a cosine decay, random flips
and 90-degree turns (every shape class is rotation invariant), the forward pass in
bfloat16 where the device has it natively (twice as fast on an AVX512-BF16 CPU), for
num_steps or until a seconds budget is spent; seeded and deterministic on the CPU for a
given num_steps. Measured on the hard shapes (8,000 training images, 2 cores, 5 minutes,
1,940-1,980 steps of 32 in bfloat16, seeds 0 and 1): mAP50 0.967, COCO mAP 0.80 on the
1,000 test images.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cs231n_lib.blocks.boxes import (
    BBOX_XFORM_CLIP,
    batched_nms,
    box_iou,
    decode_boxes,
    encode_boxes,
    make_anchors,
)
from cs231n_lib.blocks.training import check_budget, fraction_done, warmup_cosine_lr

BACKGROUND = -1  # assign_targets' label of a background anchor
IGNORE = -2  # ... and of an anchor that is neither (left out of every loss term)
# What train_detector passes to assign_targets and detection_loss unless told otherwise:
# on the hard shapes (400 steps) each of the two raised the mAP50 and the COCO mAP.
SINGLE_STAGE_ASSIGNMENT = {"pos_iou": 0.5, "neg_iou": 0.4, "best_per_gt": 4}
SINGLE_STAGE_LOSS = {"lambda_cls": 1.0, "lambda_box": 2.0, "iou_aware": True}


# 1. The backbone ------------------------------------------------------------------------


def conv_bn(in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3):
    """Conv (no bias) -> BatchNorm -> SiLU: (N, C_in, H, W) -> (N, C_out, H / s, W / s)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.SiLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """x + conv_bn(conv_bn(x)) at constant shape (N, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Backbone(nn.Module):
    """Images (N, 3, H, W) -> features (N, out_channels, H / 4, W / 4).

    Stages at strides 2, 4, 8, 16 (a strided conv_bn, then `blocks` residual blocks at
    strides 4-16); the top-down path adds 1x1 projections of the stride 16 and 8 maps,
    upsampled, to the stride 4 one, and a 3x3 conv_bn smooths the sum. H and W must be
    multiples of 16. Attributes: stride (4) and out_channels, what a head needs.
    """

    stride = 4

    def __init__(
        self, channels: Sequence[int] = (32, 48, 64, 96), out_channels: int = 64, blocks: int = 1
    ):
        super().__init__()
        if len(channels) != 4 or min(channels) < 1:
            raise ValueError(f"channels must be 4 positive ints (strides 2-16), got {channels!r}")
        c2, c4, c8, c16 = channels
        self.stem = conv_bn(3, c2, stride=2)
        self.stage4 = nn.Sequential(conv_bn(c2, c4, 2), *[ResidualBlock(c4) for _ in range(blocks)])
        self.stage8 = nn.Sequential(conv_bn(c4, c8, 2), *[ResidualBlock(c8) for _ in range(blocks)])
        self.stage16 = nn.Sequential(
            conv_bn(c8, c16, 2), *[ResidualBlock(c16) for _ in range(blocks)]
        )
        self.lateral4 = nn.Conv2d(c4, out_channels, 1)
        self.lateral8 = nn.Conv2d(c8, out_channels, 1)
        self.lateral16 = nn.Conv2d(c16, out_channels, 1)
        self.smooth = conv_bn(out_channels, out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] % 16 or x.shape[3] % 16:
            raise ValueError(f"images must be (N, 3, H, W), H, W multiples of 16, got {x.shape}")
        f4 = self.stage4(self.stem(x))  # (N, c4, H/4, W/4)
        f8 = self.stage8(f4)  # (N, c8, H/8, W/8)
        f16 = self.stage16(f8)  # (N, c16, H/16, W/16)
        top = self.lateral8(f8) + F.interpolate(self.lateral16(f16), scale_factor=2.0)
        top = self.lateral4(f4) + F.interpolate(top, scale_factor=2.0)  # (N, out, H/4, W/4)
        return self.smooth(top)


def make_backbone(
    channels: Sequence[int] = (32, 48, 64, 96), out_channels: int = 64, blocks: int = 1
) -> Backbone:
    """The backbone of both detectors: (N, 3, H, W) -> (N, out_channels, H / 4, W / 4)."""
    return Backbone(channels, out_channels, blocks)


# 2-3. Anchors and the head --------------------------------------------------------------


class DetectionHead(nn.Module):
    """Features (N, C, H, W) -> per anchor objectness (N, H W A), class logits
    (N, H W A, num_classes) and box deltas (N, H W A, 4), in make_anchors' row order.

    A tower of `depth` conv_bn layers shared by the three outputs (1x1 convs). The
    objectness bias starts at log(prior / (1 - prior)), so that at the start every anchor
    says "object" with probability prior (RetinaNet's 0.01): the many background anchors
    do not swamp the first steps.
    """

    def __init__(
        self,
        in_channels: int,
        num_anchors: int,
        num_classes: int,
        width: int = 64,
        depth: int = 2,
        prior: float = 0.01,
    ):
        super().__init__()
        layers, channels = [], in_channels
        for _ in range(depth):
            layers.append(conv_bn(channels, width))
            channels = width
        self.tower = nn.Sequential(*layers)
        self.num_anchors, self.num_classes = num_anchors, num_classes
        self.objectness = nn.Conv2d(channels, num_anchors, 1)
        self.classes = nn.Conv2d(channels, num_anchors * num_classes, 1)
        self.deltas = nn.Conv2d(channels, num_anchors * 4, 1)
        nn.init.constant_(self.objectness.bias, math.log(prior / (1 - prior)))
        nn.init.normal_(self.deltas.weight, std=0.01)
        nn.init.zeros_(self.deltas.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.tower(features)
        N = x.shape[0]

        def per_anchor(out: torch.Tensor, k: int) -> torch.Tensor:
            return out.permute(0, 2, 3, 1).reshape(N, -1, k)  # (N, H W A, k)

        objectness = per_anchor(self.objectness(x), 1)[..., 0]
        return (
            objectness,
            per_anchor(self.classes(x), self.num_classes),
            per_anchor(self.deltas(x), 4),
        )


@dataclass
class DetectorConfig:
    """Sizes of a SingleStageDetector (pixels for sizes)."""

    num_classes: int = 5  # the shape classes of cs231n_lib.data.shapes
    image_size: int = 96  # images are image_size x image_size, a multiple of 16
    channels: tuple[int, ...] = (32, 48, 64, 96)  # backbone stages at strides 2, 4, 8, 16
    out_channels: int = 64  # the stride 4 map the head reads
    blocks: int = 1  # residual blocks per backbone stage (strides 4-16)
    head_width: int = 64
    head_depth: int = 2
    anchor_sizes: tuple[float, ...] = (8.0, 13.0, 21.0, 34.0)  # objects are 6-40 px
    anchor_ratios: tuple[float, ...] = (1.0,)  # height / width


class Detections(NamedTuple):
    """Raw outputs for a batch, one row per anchor (A = H W anchors per cell)."""

    objectness: torch.Tensor  # (N, A) logits
    class_logits: torch.Tensor  # (N, A, num_classes)
    deltas: torch.Tensor  # (N, A, 4), encode_boxes' (tx, ty, tw, th) against anchors


class SingleStageDetector(nn.Module):
    """Backbone -> one stride 4 map -> DetectionHead; `anchors` (A, 4) is a buffer that
    moves with the model. forward(images (N, 3, H, W)) -> Detections."""

    def __init__(self, config: DetectorConfig | None = None):
        super().__init__()
        self.config = config = config or DetectorConfig()
        if config.image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, got {config.image_size}")
        self.backbone = make_backbone(config.channels, config.out_channels, config.blocks)
        per_cell = len(config.anchor_sizes) * len(config.anchor_ratios)
        self.head = DetectionHead(
            config.out_channels,
            per_cell,
            config.num_classes,
            config.head_width,
            config.head_depth,
        )
        grid = config.image_size // self.backbone.stride
        anchors = make_anchors(
            grid, self.backbone.stride, config.anchor_sizes, config.anchor_ratios
        )
        self.register_buffer("anchors", anchors, persistent=False)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, images: torch.Tensor) -> Detections:
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise ValueError(f"images must be (N, 3, {size}, {size}), got {tuple(images.shape)}")
        return Detections(*self.head(self.backbone(images)))


# 4. Target assignment -------------------------------------------------------------------


class Assignment(NamedTuple):
    """What assign_targets gives each of A anchors."""

    labels: torch.Tensor  # (A,) int64: the class of a positive, BACKGROUND (-1) or IGNORE (-2)
    matched: torch.Tensor  # (A,) int64: index of the ground truth of a positive, else -1
    boxes: torch.Tensor  # (A, 4): that ground truth's box (zeros where not positive)


def assign_targets(
    anchors: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    pos_iou: float = 0.5,
    neg_iou: float = 0.4,
    best_per_gt: int = 1,
) -> Assignment:
    """Label anchors (A, 4) against one image's ground truth gt_boxes (G, 4), gt_labels (G,).

    With IoU (A, G) = box_iou(anchors, gt_boxes), each ground truth claims its
    best_per_gt anchors of highest IoU (ties included, IoU > 0), so that no object is
    left without anchors, not even a 6 px one whose every anchor has IoU < 0.5. Then an
    anchor is
    - positive for the ground truth of highest IoU among those that claim it, if any;
    - else positive for the ground truth of highest IoU if that IoU >= pos_iou;
    - else BACKGROUND when its best IoU < neg_iou (every anchor of an empty image);
    - else IGNORE.
    (Claims go first: a small object keeps its anchor even where a larger one that
    overlaps it covers that anchor better.) best_per_gt = 0: no claims. An RPN uses
    labels >= 0 as "object".
    """
    if not neg_iou <= pos_iou:
        raise ValueError(f"need neg_iou <= pos_iou, got {neg_iou} and {pos_iou}")
    if isinstance(best_per_gt, bool) or not isinstance(best_per_gt, int) or best_per_gt < 0:
        raise ValueError(f"best_per_gt must be an int >= 0, got {best_per_gt!r}")
    A = len(anchors)
    gt_labels = torch.as_tensor(gt_labels, dtype=torch.int64, device=anchors.device)
    if gt_boxes.shape[0] != gt_labels.shape[0]:
        raise ValueError(f"{len(gt_boxes)} gt_boxes but {len(gt_labels)} gt_labels")
    labels = torch.full((A,), BACKGROUND, dtype=torch.int64, device=anchors.device)
    matched = torch.full((A,), -1, dtype=torch.int64, device=anchors.device)
    if len(gt_boxes) == 0:
        return Assignment(labels, matched, anchors.new_zeros((A, 4)))
    gt_boxes = gt_boxes.to(anchors.dtype)
    iou = box_iou(anchors, gt_boxes)  # (A, G)
    # Priority of (anchor, ground truth) pairs: claimed 1 + IoU, else IoU if >= pos_iou.
    priority = torch.where(iou >= pos_iou, iou, -1.0)
    if best_per_gt > 0:
        kth = iou.topk(min(best_per_gt, A), dim=0).values[-1]  # (G,): the k-th best IoU
        claimed = (iou >= kth[None, :]) & (iou > 0)
        priority = torch.where(claimed, 1 + iou, priority)
    best_priority, best_gt = priority.max(dim=1)  # (A,)
    positive = best_priority >= 0
    labels[(iou.max(dim=1).values >= neg_iou) & ~positive] = IGNORE
    labels[positive] = gt_labels[best_gt[positive]]
    matched[positive] = best_gt[positive]
    boxes = torch.where(positive[:, None], gt_boxes[best_gt], 0.0)
    return Assignment(labels, matched, boxes)


# 5. The loss ----------------------------------------------------------------------------


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss (elementwise, same shape as logits) of sigmoid(logits) against targets
    in [0, 1]: alpha_t |targets - p|^gamma BCE(logits, targets). For 0/1 targets that is
    Lin et al.'s -alpha_t (1 - p_t)^gamma log p_t, so that the many easy background
    anchors add little; for soft targets (an IoU) the quality focal loss of Li et al.
    2020. alpha_t = alpha targets + (1 - alpha) (1 - targets); alpha < 0 leaves it out;
    gamma = 0 gives BCE."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    loss = ce * (targets - p).abs() ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss


def _inter_union(boxes: torch.Tensor, targets: torch.Tensor):
    """Intersections and unions (K,) of paired boxes (K, 4) and targets (K, 4)."""
    top_left = torch.maximum(boxes[:, :2], targets[:, :2])
    bottom_right = torch.minimum(boxes[:, 2:], targets[:, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(dim=1)
    area_t = (targets[:, 2:] - targets[:, :2]).clamp(min=0).prod(dim=1)
    return inter, area + area_t - inter


def paired_iou(boxes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU (K,) of paired boxes (K, 4) and targets (K, 4): the diagonal of box_iou."""
    inter, union = _inter_union(boxes, targets)
    return inter / union.clamp(min=1e-7)


def giou_loss(boxes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - GIoU (K,) of paired boxes (K, 4) and targets (K, 4): 1 - IoU plus the share of
    the smallest enclosing box that neither covers (Rezatofighi et al. 2019). In [0, 2], 0
    for equal boxes; it still has a gradient for disjoint boxes, where 1 - IoU has none."""
    inter, union = _inter_union(boxes, targets)
    hull = torch.maximum(boxes[:, 2:], targets[:, 2:]) - torch.minimum(boxes[:, :2], targets[:, :2])
    hull_area = hull.clamp(min=0).prod(dim=1)
    eps = 1e-7
    return 1 - inter / (union + eps) + (hull_area - union) / (hull_area + eps)


class LossTerms(NamedTuple):
    """The scalar loss pieces of a batch; total = obj + lambda_cls cls + lambda_box box."""

    total: torch.Tensor
    objectness: torch.Tensor
    classification: torch.Tensor
    box: torch.Tensor
    num_positives: int


def detection_loss(
    outputs: Detections,
    anchors: torch.Tensor,
    assignments: Sequence[Assignment],
    lambda_cls: float = 1.0,
    lambda_box: float = 2.0,
    smooth_l1_beta: float = 1.0 / 9,
    alpha: float = 0.25,
    gamma: float = 2.0,
    iou_aware: bool = False,
) -> LossTerms:
    """The detection loss of a batch of N images against their N assignments.

    - objectness: sigmoid_focal_loss over anchors that are positive (target 1) or
      BACKGROUND (target 0), summed and divided by the number of positives (at least 1);
    - classification: cross-entropy of the class logits of positives, averaged;
    - box: giou_loss of decode_boxes(deltas) against the matched boxes plus smooth L1
      (beta smooth_l1_beta) of the deltas against encode_boxes(matched, anchor), summed
      over the 4 deltas, averaged over positives.
    With iou_aware, the objectness target of a positive is the IoU of its decoded box
    with its ground truth (detached; YOLOv3's and the quality focal loss' idea) instead
    of 1, so that the score ranks well-placed boxes first, which COCO's high IoU
    thresholds reward. A batch without positives has classification and box terms 0.
    """
    labels = torch.stack([a.labels for a in assignments])  # (N, A)
    boxes = torch.stack([a.boxes for a in assignments])  # (N, A, 4)
    positive = labels >= 0
    counted = labels != IGNORE
    num_positives = int(positive.sum())
    if num_positives == 0:
        obj = sigmoid_focal_loss(
            outputs.objectness[counted], positive[counted].to(anchors.dtype), alpha, gamma
        ).sum()
        zero = outputs.class_logits.sum() * 0 + outputs.deltas.sum() * 0
        return LossTerms(obj + zero, obj, zero, zero, 0)
    cls = F.cross_entropy(outputs.class_logits[positive], labels[positive])
    pos_anchors = anchors[None].expand_as(boxes)[positive]  # (P, 4)
    deltas, targets = outputs.deltas[positive], boxes[positive]
    predicted = decode_boxes(deltas, pos_anchors, max_log_scale=BBOX_XFORM_CLIP)
    l1 = F.smooth_l1_loss(
        deltas, encode_boxes(targets, pos_anchors), beta=smooth_l1_beta, reduction="none"
    ).sum(dim=1)
    giou = giou_loss(predicted, targets)
    box = (giou + l1).mean()
    objectness_target = positive.to(anchors.dtype)
    if iou_aware:
        with torch.no_grad():
            iou = paired_iou(predicted, targets)
        objectness_target[positive] = iou.clamp(min=0.0).to(anchors.dtype)
    obj = (
        sigmoid_focal_loss(
            outputs.objectness[counted], objectness_target[counted], alpha, gamma
        ).sum()
        / num_positives
    )
    total = obj + lambda_cls * cls + lambda_box * box
    return LossTerms(total, obj, cls, box, num_positives)


# 6. Decoding and NMS --------------------------------------------------------------------


def _as_images(images, device) -> torch.Tensor:
    """numpy (N, H, W, 3) or (N, 3, H, W), or a tensor (N, 3, H, W) -> float32 (N, 3, H, W)."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4 and images.shape[-1] == 3 and images.shape[1] != 3:
            images = images.transpose(0, 3, 1, 2)
        images = torch.from_numpy(np.ascontiguousarray(images))
    return images.to(device=device, dtype=torch.float32)


def decode_detections(
    outputs: Detections,
    anchors: torch.Tensor,
    image_size: int,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    pre_nms: int = 1000,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image (boxes (K, 4), scores (K,), labels (K,)) from a batch of raw outputs.

    Every (anchor, class) pair scores sigmoid(objectness) softmax(class logits)[class];
    the pre_nms best pairs above score_threshold are decoded, clipped to the image,
    passed through class-aware NMS (batched_nms, IoU > iou_threshold suppresses) and the
    max_detections best kept, by decreasing score.
    """
    scores = torch.sigmoid(outputs.objectness)[..., None] * outputs.class_logits.softmax(-1)
    C = scores.shape[-1]
    results = []
    for n in range(len(scores)):
        flat = scores[n].reshape(-1)  # (A C,): anchor-major, class-minor
        keep = torch.nonzero(flat > score_threshold)[:, 0]
        if len(keep) > pre_nms:
            keep = keep[torch.topk(flat[keep], pre_nms).indices]
        anchor_index, labels = keep // C, keep % C
        boxes = decode_boxes(
            outputs.deltas[n][anchor_index], anchors[anchor_index], max_log_scale=BBOX_XFORM_CLIP
        ).clamp(0, image_size)
        kept = batched_nms(boxes, flat[keep], labels, iou_threshold)[:max_detections]
        results.append((boxes[kept], flat[keep][kept], labels[kept]))
    return results


@torch.no_grad()
def detect(
    model: SingleStageDetector,
    images,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    batch_size: int = 256,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Detections on images (numpy (N, H, W, 3) or (N, 3, H, W), or a tensor (N, 3, H, W)).

    Runs the model in eval mode on its device, batch_size images at a time, and decodes
    with decode_detections. Returns three lists with one entry per image: boxes (K, 4)
    float32 (x1, y1, x2, y2) pixels, scores (K,) float32 decreasing, labels (K,) int64;
    the first arguments of metrics.evaluate_detections and metrics.coco_map.
    """
    device = model.anchors.device
    was_training = model.training
    model.eval()
    all_boxes, all_scores, all_labels = [], [], []
    try:
        for start in range(0, len(images), batch_size):
            batch = _as_images(images[start : start + batch_size], device)
            results = decode_detections(
                model(batch),
                model.anchors,
                model.config.image_size,
                score_threshold,
                iou_threshold,
                max_detections,
            )
            for boxes, scores, labels in results:
                all_boxes.append(boxes.float().cpu().numpy())
                all_scores.append(scores.float().cpu().numpy())
                all_labels.append(labels.cpu().numpy().astype(np.int64))
    finally:
        model.train(was_training)
    return all_boxes, all_scores, all_labels


# Training -------------------------------------------------------------------------------


def native_bf16(device) -> bool:
    """Whether `device` computes bfloat16 natively (a GPU that supports it, or a CPU whose
    oneDNN has bfloat16 kernels, e.g. AVX512-BF16); elsewhere autocast only emulates it."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _turn(images: torch.Tensor, boxes: list[torch.Tensor], k: int, flip: bool, size: int):
    """Images (N, 3, S, S) and their boxes turned by k quarter turns (counter-clockwise
    as torch.rot90 on (H, W)) after an optional left-right flip."""
    if flip:
        images = images.flip(3)
        boxes = [torch.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], 1) for b in boxes]
    for _ in range(k % 4):
        images = torch.rot90(images, 1, dims=(2, 3))
        # rot90 on (H, W) maps pixel (row y, col x) to (row S - 1 - x, col y).
        boxes = [torch.stack([b[:, 1], size - b[:, 2], b[:, 3], size - b[:, 0]], 1) for b in boxes]
    return images, boxes


def train_detector(
    model: SingleStageDetector,
    images,
    boxes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    num_steps: int | None = None,
    seconds: float | None = None,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    weight_decay: float = 5e-4,
    warmup_steps: int = 100,
    augment: bool = True,
    seed: int = 0,
    progress: bool = True,
    loss_kwargs: dict | None = None,
    assign_kwargs: dict | None = None,
    bf16: bool | None = None,
) -> dict:
    """Train `model` on images with their per-image boxes (K_i, 4) and labels (K_i,).

    AdamW (learning_rate, weight_decay on the conv weights only), a linear warm-up over
    warmup_steps and a half-cosine decay to 0 at the end of training; the end is
    num_steps, or the seconds budget, or whichever comes first when both are given (the
    schedule then follows the larger of the two fractions done). Batches of batch_size
    images drawn without replacement (a new order each epoch) from a generator seeded
    with `seed`; with augment, each batch is flipped left-right and turned by a random
    number of quarter turns. Given num_steps (and no seconds) a run on the CPU is
    deterministic; under a seconds budget the schedule follows the clock.

    images: numpy (N, H, W, 3) or (N, 3, H, W), or a tensor, in [0, 1]. loss_kwargs go
    to detection_loss and assign_kwargs to assign_targets, over the defaults
    SINGLE_STAGE_LOSS and SINGLE_STAGE_ASSIGNMENT (4 anchors claimed per object, IoU-aware
    objectness). bf16: run the forward pass under torch.autocast in bfloat16 (the loss
    stays float32); None does so where the device computes bfloat16 natively
    (native_bf16), about twice as fast on a CPU with AVX512-BF16. Returns a history dict: "loss",
    "objectness", "classification", "box" (per step), "steps", "seconds", "images_seen".
    """
    from tqdm.auto import tqdm

    check_budget(num_steps, seconds)
    if not len(images) == len(boxes) == len(labels):
        raise ValueError(f"{len(images)} images, {len(boxes)} box lists, {len(labels)} label lists")
    device = model.anchors.device
    size = model.config.image_size
    bf16 = native_bf16(device) if bf16 is None else bool(bf16)
    loss_kwargs = {**SINGLE_STAGE_LOSS, **(loss_kwargs or {})}
    assign_kwargs = {**SINGLE_STAGE_ASSIGNMENT, **(assign_kwargs or {})}
    X = _as_images(images, "cpu")
    gt_boxes = [torch.as_tensor(np.asarray(b, dtype=np.float32).reshape(-1, 4)) for b in boxes]
    gt_labels = [torch.as_tensor(np.asarray(y, dtype=np.int64).reshape(-1)) for y in labels]
    decay = [p for name, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for name, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=learning_rate,
    )
    rng = np.random.default_rng(seed)
    history: dict = {"loss": [], "objectness": [], "classification": [], "box": []}
    total = num_steps if num_steps is not None else None
    bar = tqdm(total=total, desc="detector", disable=not progress, unit="step")
    order, position, step = rng.permutation(len(X)), 0, 0
    # NOTE: channels-last halves the time of a CPU backward pass through these convs.
    model.to(memory_format=torch.channels_last)
    model.train()
    start = time.perf_counter()
    while (done := fraction_done(step, start, num_steps, seconds)) < 1:
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine_lr(step, done, learning_rate, warmup_steps)
        if position + batch_size > len(X):
            order, position = rng.permutation(len(X)), 0
        index = order[position : position + batch_size]
        position += batch_size
        batch = X[index]
        batch_boxes = [gt_boxes[i] for i in index]
        if augment:
            batch, batch_boxes = _turn(
                batch, batch_boxes, int(rng.integers(4)), bool(rng.integers(2)), size
            )
        batch = batch.to(device).contiguous(memory_format=torch.channels_last)
        assignments = [
            assign_targets(model.anchors, b.to(device), gt_labels[i].to(device), **assign_kwargs)
            for b, i in zip(batch_boxes, index, strict=True)
        ]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            outputs = model(batch)
        outputs = Detections(*(t.float() for t in outputs))
        terms = detection_loss(outputs, model.anchors, assignments, **loss_kwargs)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        step += 1
        for key, value in zip(
            ("loss", "objectness", "classification", "box"),
            (terms.total, terms.objectness, terms.classification, terms.box),
            strict=True,
        ):
            history[key].append(float(value.detach()))
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(history['loss'][-10:]):.3f}")
    bar.close()
    model.eval()
    history["steps"] = step
    history["bf16"] = bf16
    history["seconds"] = time.perf_counter() - start
    history["images_seen"] = step * batch_size
    return history
