"""A two-stage detector (the Faster R-CNN idea) in torch: a region proposal network (RPN)
and an RoI head on the single-stage detector's backbone (cs231n_lib.blocks.detection).

Conventions of cs231n_lib.blocks.boxes: boxes (K, 4) = (x1, y1, x2, y2) in image pixels;
images (N, 3, H, W) floats in [0, 1] (numpy (N, H, W, 3) is accepted where noted).

The detector, in the order of its forward pass:

1. make_backbone (detection's): one feature map at stride 4, (N, C, H / 4, W / 4).
2. RPNHead: per anchor (make_anchors, A per cell) an objectness logit and 4 box deltas
   (encode_boxes' tx, ty, tw, th against the anchor); no classes.
3. make_proposals: the pre_nms anchors of highest objectness, decoded, clipped to the image,
   boxes smaller than min_size dropped, NMS (IoU > nms_iou suppresses; boxes.nms's greedy
   walk run for a whole batch at once), the post_nms best kept.
4. RoIHead: a 1x1 conv_bn shrinks the stride 4 map to roi_channels, RoI Align
   (blocks.boxes.roi_align, float32) pools every proposal to (roi_channels, roi_size,
   roi_size), two fully connected layers, then num_classes + 1 class logits (column 0 =
   BACKGROUND_CLASS, class c in column c + 1) and class-specific box deltas against the
   proposal (4 per class, scaled by ROI_BOX_WEIGHTS).

Training (two_stage_loss, train_two_stage), L = L_rpn_cls + L_rpn_reg + L_roi_cls + L_roi_reg:
- label_anchors: an anchor is an object when its IoU with some ground truth is >= 0.7 or it
  is the best anchor of a ground truth (detection.assign_targets with best_per_gt = 1),
  background when its best IoU < 0.3, ignored in between; sample_balanced draws a minibatch
  of 256 anchors per image, at most half of them objects. L_rpn_cls: binary cross-entropy
  over the minibatch; L_rpn_reg: smooth L1 of the deltas of its objects, divided by the
  minibatch size.
- sample_proposals: the (detached) proposals plus the ground-truth boxes; a proposal is
  foreground (label class + 1) when its best IoU with a ground truth is >= 0.5, background
  (label 0) otherwise; roi_batch per image, at most roi_positive_fraction foreground.
  L_roi_cls: cross-entropy over the sampled RoIs; L_roi_reg: smooth L1 of the deltas of the
  foreground RoIs' own class, divided by the number of sampled RoIs.

detect(model, images) returns per image (boxes (K, 4), scores (K,), labels (K,)), the
format of detection.detect and of cs231n_lib.metrics.evaluate_detections: score = softmax
probability of a class, one box per (proposal, class), class-aware NMS.
"""

from __future__ import annotations

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
    roi_align,
)
from cs231n_lib.blocks.detection import (
    BACKGROUND,
    _as_images,
    _turn,
    assign_targets,
    conv_bn,
    make_backbone,
    native_bf16,
)
from cs231n_lib.blocks.training import check_budget, fraction_done, warmup_cosine_lr

BACKGROUND_CLASS = 0  # the RoI head's class column of "no object"; class c is column c + 1
# Faster R-CNN's (and torchvision's) scale of the RoI head's regression targets: the
# deltas against proposals are small, so they are multiplied by 10 (centre) and 5 (size).
ROI_BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


@dataclass
class TwoStageConfig:
    """Sizes and sampling rules of a TwoStageDetector (pixels for sizes)."""

    num_classes: int = 5  # the shape classes of cs231n_lib.data.shapes (plus background)
    image_size: int = 96  # a multiple of 16
    channels: tuple[int, ...] = (32, 48, 64, 96)  # backbone stages at strides 2, 4, 8, 16
    out_channels: int = 64  # the stride 4 map that the RPN and the RoI head read
    blocks: int = 1
    rpn_width: int = 64
    anchor_sizes: tuple[float, ...] = (8.0, 13.0, 21.0, 34.0)
    anchor_ratios: tuple[float, ...] = (1.0,)
    # RPN anchor labels and minibatch
    rpn_pos_iou: float = 0.7
    rpn_neg_iou: float = 0.3
    rpn_batch: int = 256  # anchors per image
    rpn_positive_fraction: float = 0.5
    # proposals: (training, test)
    pre_nms: tuple[int, int] = (300, 600)
    post_nms: tuple[int, int] = (200, 100)
    nms_iou: float = 0.7
    min_size: float = 2.0
    # RoI head
    roi_size: int = 7
    roi_channels: int = 32  # the 1x1 conv before the fully connected layers
    fc_width: int = 256
    class_agnostic: bool = False  # one box per RoI instead of one per class
    roi_batch: int = 64  # RoIs per image
    roi_positive_fraction: float = 0.25
    fg_iou: float = 0.5


# 1-2, 4. The modules ----------------------------------------------------------------------


class RPNHead(nn.Module):
    """Features (N, C, H, W) -> objectness logits (N, H W A) and deltas (N, H W A, 4),
    in make_anchors' row order (cell by cell, then the A anchors of a cell)."""

    def __init__(self, in_channels: int, num_anchors: int, width: int = 64):
        super().__init__()
        self.conv = conv_bn(in_channels, width)
        self.objectness = nn.Conv2d(width, num_anchors, 1)
        self.deltas = nn.Conv2d(width, num_anchors * 4, 1)
        for layer in (self.objectness, self.deltas):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(features)
        N = x.shape[0]
        objectness = self.objectness(x).permute(0, 2, 3, 1).reshape(N, -1)
        deltas = self.deltas(x).permute(0, 2, 3, 1).reshape(N, -1, 4)
        return objectness, deltas


class RoIHead(nn.Module):
    """reduce: features (N, C, h, w) -> (N, channels, h, w), a 1x1 conv_bn applied to the
    whole map BEFORE RoI Align (RoI Align then interpolates `channels` instead of C
    channels: it costs about C / channels times less, forward and backward);
    forward: pooled RoIs (K, channels, P, P) of the reduced map -> class logits
    (K, num_classes + 1) and box deltas (K, 4 num_classes), or (K, 4) when class_agnostic,
    through two Linear + ReLU of `width` (torchvision's TwoMLPHead and FastRCNNPredictor).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        roi_size: int = 7,
        channels: int = 32,
        width: int = 256,
        class_agnostic: bool = False,
    ):
        super().__init__()
        self.reduce = conv_bn(in_channels, channels, kernel_size=1)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * roi_size * roi_size, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width),
            nn.ReLU(inplace=True),
        )
        self.num_classes, self.class_agnostic = num_classes, class_agnostic
        self.classes = nn.Linear(width, num_classes + 1)
        self.deltas = nn.Linear(width, 4 if class_agnostic else 4 * num_classes)
        nn.init.normal_(self.classes.weight, std=0.01)
        nn.init.normal_(self.deltas.weight, std=0.001)
        nn.init.zeros_(self.classes.bias)
        nn.init.zeros_(self.deltas.bias)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.fc(pooled)
        return self.classes(x), self.deltas(x)


class RPNOutputs(NamedTuple):
    features: torch.Tensor  # (N, C, H / 4, W / 4)
    objectness: torch.Tensor  # (N, A) logits
    deltas: torch.Tensor  # (N, A, 4) against model.anchors


class TwoStageDetector(nn.Module):
    """Backbone -> stride 4 map -> RPNHead (forward) and RoIHead (roi_forward).

    `anchors` (A, 4) is a buffer that moves with the model. forward(images (N, 3, S, S))
    -> RPNOutputs; roi_forward(features, proposals: N tensors (P_i, 4)) -> class logits
    (sum P_i, num_classes + 1) and deltas, the RoIs of image 0 first (RoI Align in
    float32 also under autocast, see roi_features).
    """

    def __init__(self, config: TwoStageConfig | None = None):
        super().__init__()
        self.config = config = config or TwoStageConfig()
        if config.image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, got {config.image_size}")
        self.backbone = make_backbone(config.channels, config.out_channels, config.blocks)
        per_cell = len(config.anchor_sizes) * len(config.anchor_ratios)
        self.rpn = RPNHead(config.out_channels, per_cell, config.rpn_width)
        self.roi_head = RoIHead(
            config.out_channels,
            config.num_classes,
            config.roi_size,
            config.roi_channels,
            config.fc_width,
            config.class_agnostic,
        )
        grid = config.image_size // self.backbone.stride
        anchors = make_anchors(
            grid, self.backbone.stride, config.anchor_sizes, config.anchor_ratios
        )
        self.register_buffer("anchors", anchors, persistent=False)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, images: torch.Tensor) -> RPNOutputs:
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise ValueError(f"images must be (N, 3, {size}, {size}), got {tuple(images.shape)}")
        features = self.backbone(images)
        return RPNOutputs(features, *self.rpn(features))

    def roi_forward(
        self, features: torch.Tensor, proposals: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        reduced = self.roi_head.reduce(features)
        pooled = roi_features(reduced, proposals, self.config.roi_size, 1.0 / self.backbone.stride)
        return self.roi_head(pooled.to(reduced.dtype))


def roi_features(
    features: torch.Tensor, proposals: Sequence[torch.Tensor], roi_size: int, spatial_scale: float
) -> torch.Tensor:
    """RoI Align (K = sum P_i, C, roi_size, roi_size) of proposals (N tensors (P_i, 4),
    image pixels) on features (N, C, h, w); computed in float32 with autocast off
    (bfloat16 coordinates would be off by up to half a pixel)."""
    index = torch.cat(
        [torch.full((len(p), 1), float(n), device=features.device) for n, p in enumerate(proposals)]
    )
    rois = torch.cat([index, torch.cat(list(proposals)).float().to(features.device)], dim=1)
    with torch.autocast(features.device.type, enabled=False):
        return roi_align(features.float(), rois, roi_size, spatial_scale, sampling_ratio=2)


# 3. Anchor labels, sampling, proposals -----------------------------------------------------


def label_anchors(
    anchors: torch.Tensor, gt_boxes: torch.Tensor, pos_iou: float = 0.7, neg_iou: float = 0.3
) -> tuple[torch.Tensor, torch.Tensor]:
    """RPN labels of anchors (A, 4) against one image's gt_boxes (G, 4).

    Returns labels (A,) int64: 1 object (IoU >= pos_iou with a ground truth, or the anchor
    of highest IoU of a ground truth, ties included), 0 background (best IoU < neg_iou),
    -1 ignored; and the matched ground-truth boxes (A, 4) (zeros where not an object).
    """
    gt_labels = torch.zeros(len(gt_boxes), dtype=torch.int64, device=anchors.device)
    a = assign_targets(anchors, gt_boxes, gt_labels, pos_iou, neg_iou, best_per_gt=1)
    labels = torch.where(a.labels >= 0, 1, torch.where(a.labels == BACKGROUND, 0, -1))
    return labels, a.boxes


def sample_balanced(
    labels: torch.Tensor,
    batch_size: int,
    positive_fraction: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A minibatch of labels (A,) with 1 positive / 0 negative / -1 ignored: indices of
    min(#positives, int(batch_size positive_fraction)) random positives and of up to
    batch_size minus that many random negatives, (P,) and (Q,) int64 on labels' device.
    Random draws come from `generator` (a CPU torch.Generator) for reproducibility."""
    positives = torch.nonzero(labels == 1)[:, 0]
    negatives = torch.nonzero(labels == 0)[:, 0]
    num_pos = min(len(positives), int(batch_size * positive_fraction))
    num_neg = min(len(negatives), batch_size - num_pos)
    pick_pos = torch.randperm(len(positives), generator=generator)[:num_pos]
    pick_neg = torch.randperm(len(negatives), generator=generator)[:num_neg]
    return positives[pick_pos.to(labels.device)], negatives[pick_neg.to(labels.device)]


@torch.no_grad()
def make_proposals(
    objectness: torch.Tensor,
    deltas: torch.Tensor,
    anchors: torch.Tensor,
    image_size: int,
    pre_nms: int = 600,
    post_nms: int = 100,
    nms_iou: float = 0.7,
    min_size: float = 2.0,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image (boxes (P, 4), objectness logits (P,)), P <= post_nms, by decreasing score:
    the pre_nms anchors of highest objectness (N, A), their deltas (N, A, 4) decoded,
    clipped to [0, image_size], boxes narrower or lower than min_size dropped, then NMS."""
    N = len(objectness)
    k = min(pre_nms, anchors.shape[0])
    scores, top = objectness.detach().float().topk(k, dim=1)  # (N, k), decreasing
    boxes = decode_boxes(
        deltas.detach().float().gather(1, top[..., None].expand(N, k, 4)).reshape(-1, 4),
        anchors[top.reshape(-1)],
        max_log_scale=BBOX_XFORM_CLIP,
    ).clamp(0, image_size)
    boxes = boxes.reshape(N, k, 4)
    wh = boxes[..., 2:] - boxes[..., :2]
    valid = (wh >= min_size).all(dim=2)
    # NOTE: 32 images at a time keep the (n, k, k) IoU tensors at a few tens of MB.
    kept = torch.cat(
        [
            _batched_greedy_nms(boxes[i : i + 32], valid[i : i + 32], nms_iou)
            for i in range(0, N, 32)
        ]
    )  # (N, k)
    results = []
    for n in range(N):
        index = torch.nonzero(kept[n])[:post_nms, 0]
        results.append((boxes[n, index], scores[n, index]))
    return results


def _batched_greedy_nms(boxes: torch.Tensor, valid: torch.Tensor, iou_threshold: float):
    """boxes.nms for N images at once: boxes (N, k, 4) sorted by decreasing score, valid
    (N, k) bool (invalid boxes neither kept nor suppressing) -> kept (N, k) bool.

    The same greedy walk (a box is kept unless an earlier kept box overlaps it by IoU >
    iou_threshold), k steps over all images together instead of N walks in Python.
    """
    x1, y1, x2, y2 = boxes.unbind(dim=2)  # (N, k) each
    iw = torch.minimum(x2[:, :, None], x2[:, None]) - torch.maximum(x1[:, :, None], x1[:, None])
    ih = torch.minimum(y2[:, :, None], y2[:, None]) - torch.maximum(y1[:, :, None], y1[:, None])
    inter = iw.clamp_(min=0) * ih.clamp_(min=0)  # (N, k, k)
    area = (x2 - x1) * (y2 - y1)
    union = area[:, :, None] + area[:, None, :] - inter
    overlaps = (inter > iou_threshold * union).cpu().numpy()  # IoU > threshold
    suppressed = ~valid.cpu().numpy()
    for i in range(boxes.shape[1] - 1):
        alive = ~suppressed[:, i, None]  # (N, 1): images where box i is kept
        suppressed[:, i + 1 :] |= overlaps[:, i, i + 1 :] & alive
    return torch.as_tensor(~suppressed, device=boxes.device)


def sample_proposals(
    proposals: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    batch_size: int = 64,
    positive_fraction: float = 0.25,
    fg_iou: float = 0.5,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The RoIs the head trains on, for one image: proposals (P, 4) with the ground truth
    gt_boxes (G, 4) appended; foreground when the best IoU with a ground truth is >= fg_iou
    (label gt class + 1), else background (label BACKGROUND_CLASS = 0); sample_balanced
    draws batch_size of them, at most positive_fraction foreground, foreground first.

    Returns rois (R, 4), labels (R,) int64 in 0..num_classes, and targets (R, 4) (the
    matched ground-truth box of a foreground RoI, the RoI itself for background ones).
    """
    gt_boxes = gt_boxes.to(proposals)
    gt_labels = torch.as_tensor(gt_labels, dtype=torch.int64, device=proposals.device)
    candidates = torch.cat([proposals, gt_boxes])
    if len(gt_boxes) == 0:
        labels = torch.zeros(len(candidates), dtype=torch.int64, device=proposals.device)
        targets = candidates
    else:
        best_iou, best_gt = box_iou(candidates, gt_boxes).max(dim=1)
        foreground = best_iou >= fg_iou
        labels = torch.where(foreground, gt_labels[best_gt] + 1, BACKGROUND_CLASS)
        targets = torch.where(foreground[:, None], gt_boxes[best_gt], candidates)
    pos, neg = sample_balanced((labels > 0).long(), batch_size, positive_fraction, generator)
    keep = torch.cat([pos, neg])
    return candidates[keep], labels[keep], targets[keep]


# Losses ------------------------------------------------------------------------------------


class TwoStageLoss(NamedTuple):
    """The scalar loss pieces of a batch; total = the sum of the four."""

    total: torch.Tensor
    rpn_objectness: torch.Tensor
    rpn_box: torch.Tensor
    roi_classification: torch.Tensor
    roi_box: torch.Tensor
    num_foreground: int  # foreground RoIs in the batch


def _roi_weights(like: torch.Tensor) -> torch.Tensor:
    return like.new_tensor(ROI_BOX_WEIGHTS)


def rpn_loss(
    outputs: RPNOutputs,
    anchors: torch.Tensor,
    gt_boxes: Sequence[torch.Tensor],
    config: TwoStageConfig,
    generator: torch.Generator | None = None,
    smooth_l1_beta: float = 1.0 / 9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_rpn_cls, L_rpn_reg) of a batch: BCE over each image's sampled anchors (mean over
    all sampled anchors of the batch) and smooth L1 of the object anchors' deltas against
    encode_boxes(matched, anchor), summed and divided by the number of sampled anchors."""
    logits, targets, deltas, goals = [], [], [], []
    for n, boxes in enumerate(gt_boxes):
        labels, matched = label_anchors(anchors, boxes, config.rpn_pos_iou, config.rpn_neg_iou)
        pos, neg = sample_balanced(
            labels, config.rpn_batch, config.rpn_positive_fraction, generator
        )
        picked = torch.cat([pos, neg])
        logits.append(outputs.objectness[n, picked])
        targets.append((labels[picked] == 1).float())
        deltas.append(outputs.deltas[n, pos])
        goals.append(encode_boxes(matched[pos], anchors[pos]))
    logits, targets = torch.cat(logits), torch.cat(targets)
    cls = F.binary_cross_entropy_with_logits(logits.float(), targets)
    reg = F.smooth_l1_loss(
        torch.cat(deltas).float(), torch.cat(goals), beta=smooth_l1_beta, reduction="sum"
    ) / max(len(logits), 1)
    return cls, reg


def roi_loss(
    class_logits: torch.Tensor,
    deltas: torch.Tensor,
    rois: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    smooth_l1_beta: float = 1.0 / 9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_roi_cls, L_roi_reg) of R sampled RoIs: cross-entropy of class_logits (R, C + 1)
    against labels (R,) (0 background), and smooth L1 of the foreground RoIs' deltas of
    their own class (columns 4 (label - 1) .. + 4 of deltas (R, 4 C), or deltas (R, 4)
    when class-agnostic) against ROI_BOX_WEIGHTS * encode_boxes(targets, rois), summed
    and divided by R."""
    cls = F.cross_entropy(class_logits.float(), labels)
    fg = torch.nonzero(labels > 0)[:, 0]
    if len(fg) == 0:
        return cls, deltas.sum() * 0.0
    d = deltas.float().reshape(len(deltas), -1, 4)  # (R, C or 1, 4)
    column = (labels[fg] - 1) if d.shape[1] > 1 else torch.zeros_like(labels[fg])
    goal = encode_boxes(targets[fg], rois[fg]) * _roi_weights(d)
    reg = F.smooth_l1_loss(d[fg, column], goal, beta=smooth_l1_beta, reduction="sum")
    return cls, reg / len(labels)


def two_stage_loss(
    model: TwoStageDetector,
    images: torch.Tensor,
    gt_boxes: Sequence[torch.Tensor],
    gt_labels: Sequence[torch.Tensor],
    generator: torch.Generator | None = None,
    bf16: bool = False,
) -> TwoStageLoss:
    """L = L_rpn_cls + L_rpn_reg + L_roi_cls + L_roi_reg of a batch images (N, 3, S, S)
    with per-image gt_boxes (G_i, 4) and gt_labels (G_i,), on the model's device.

    The RPN's proposals (training sizes config.pre_nms[0], post_nms[0]) are constants for
    the RoI head (no gradient flows through their coordinates, as in approximate joint
    training). bf16: backbone, RPN and the head's layers under bfloat16 autocast; RoI
    Align and the losses in float32.
    """
    cfg = model.config
    device = model.anchors.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        outputs = model(images)
    outputs = RPNOutputs(*(t.float() for t in outputs))
    rpn_cls, rpn_reg = rpn_loss(outputs, model.anchors, gt_boxes, cfg, generator)
    proposals = make_proposals(
        outputs.objectness,
        outputs.deltas,
        model.anchors,
        cfg.image_size,
        cfg.pre_nms[0],
        cfg.post_nms[0],
        cfg.nms_iou,
        cfg.min_size,
    )
    rois, labels, targets = [], [], []
    for (boxes, _), g_boxes, g_labels in zip(proposals, gt_boxes, gt_labels, strict=True):
        r, y, t = sample_proposals(
            boxes,
            g_boxes,
            g_labels,
            cfg.roi_batch,
            cfg.roi_positive_fraction,
            cfg.fg_iou,
            generator,
        )
        rois.append(r)
        labels.append(y)
        targets.append(t)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        class_logits, deltas = model.roi_forward(outputs.features, rois)
    labels = torch.cat(labels)
    roi_cls, roi_reg = roi_loss(class_logits, deltas, torch.cat(rois), labels, torch.cat(targets))
    total = rpn_cls + rpn_reg + roi_cls + roi_reg
    return TwoStageLoss(total, rpn_cls, rpn_reg, roi_cls, roi_reg, int((labels > 0).sum()))


# Detection ---------------------------------------------------------------------------------


def decode_roi_detections(
    class_logits: torch.Tensor,
    deltas: torch.Tensor,
    proposals: torch.Tensor,
    image_size: int,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(boxes (K, 4), scores (K,), labels (K,) in 0..C-1) of one image from its P RoIs'
    class_logits (P, C + 1) and deltas (P, 4 C) or (P, 4) against proposals (P, 4): every
    (RoI, class) pair scores softmax(class_logits)[class + 1], its box is the class's
    deltas decoded against the RoI and clipped; pairs above score_threshold go through
    class-aware NMS and the max_detections best are kept, by decreasing score."""
    P = len(proposals)
    C = class_logits.shape[1] - 1
    scores = class_logits.float().softmax(dim=1)[:, 1:]  # (P, C)
    d = deltas.float().reshape(P, -1, 4).expand(P, C, 4) / _roi_weights(proposals)
    boxes = decode_boxes(
        d.reshape(-1, 4),
        proposals[:, None].expand(P, C, 4).reshape(-1, 4).float(),
        max_log_scale=BBOX_XFORM_CLIP,
    ).clamp(0, image_size)  # (P C, 4): proposal-major, class-minor
    flat = scores.reshape(-1)
    keep = torch.nonzero(flat > score_threshold)[:, 0]
    labels = keep % C
    kept = keep[batched_nms(boxes[keep], flat[keep], labels, iou_threshold)[:max_detections]]
    return boxes[kept], flat[kept], kept % C


@torch.no_grad()
def detect(
    model: TwoStageDetector,
    images,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    batch_size: int = 256,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Detections on images (numpy (N, H, W, 3) or (N, 3, H, W), or a tensor (N, 3, H, W)),
    in detection.detect's format: three lists with one entry per image, boxes (K, 4)
    float32, scores (K,) float32 decreasing, labels (K,) int64. Eval mode, the model's
    device, proposals of test sizes (config.pre_nms[1], post_nms[1])."""
    cfg = model.config
    device = model.anchors.device
    was_training = model.training
    model.eval()
    all_boxes, all_scores, all_labels = [], [], []
    try:
        for start in range(0, len(images), batch_size):
            batch = _as_images(images[start : start + batch_size], device)
            outputs = model(batch)
            proposals = make_proposals(
                outputs.objectness,
                outputs.deltas,
                model.anchors,
                cfg.image_size,
                cfg.pre_nms[1],
                cfg.post_nms[1],
                cfg.nms_iou,
                cfg.min_size,
            )
            boxes_list = [p for p, _ in proposals]
            class_logits, deltas = model.roi_forward(outputs.features, boxes_list)
            offset = 0
            for p in boxes_list:
                boxes, scores, labels = decode_roi_detections(
                    class_logits[offset : offset + len(p)],
                    deltas[offset : offset + len(p)],
                    p,
                    cfg.image_size,
                    score_threshold,
                    iou_threshold,
                    max_detections,
                )
                offset += len(p)
                all_boxes.append(boxes.float().cpu().numpy())
                all_scores.append(scores.float().cpu().numpy())
                all_labels.append(labels.cpu().numpy().astype(np.int64))
    finally:
        model.train(was_training)
    return all_boxes, all_scores, all_labels


# Training ----------------------------------------------------------------------------------


def train_two_stage(
    model: TwoStageDetector,
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
    bf16: bool | None = None,
) -> dict:
    """Train `model` end to end (RPN and RoI head together) on images with their per-image
    boxes (K_i, 4) and labels (K_i,); the schedule, batches, augmentation and bf16 rule of
    detection.train_detector (AdamW, warm-up, half-cosine to 0 at num_steps or at the
    seconds budget; flips and quarter turns). The anchor and RoI minibatches are drawn
    from a torch.Generator seeded with `seed`: given num_steps (and no seconds) a run on
    the CPU is deterministic.

    Returns train_detector's history dict: per step "loss", "objectness" (L_rpn_cls),
    "classification" (L_roi_cls), "box" (L_rpn_reg + L_roi_reg), plus the four terms
    "rpn_objectness", "rpn_box", "roi_classification", "roi_box"; "steps", "seconds",
    "images_seen", "bf16".
    """
    from tqdm.auto import tqdm

    check_budget(num_steps, seconds)
    if not len(images) == len(boxes) == len(labels):
        raise ValueError(f"{len(images)} images, {len(boxes)} box lists, {len(labels)} label lists")
    device = model.anchors.device
    size = model.config.image_size
    bf16 = native_bf16(device) if bf16 is None else bool(bf16)
    X = _as_images(images, "cpu")
    gt_boxes = [torch.as_tensor(np.asarray(b, dtype=np.float32).reshape(-1, 4)) for b in boxes]
    gt_labels = [torch.as_tensor(np.asarray(y, dtype=np.int64).reshape(-1)) for y in labels]
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=learning_rate,
    )
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    keys = ("rpn_objectness", "rpn_box", "roi_classification", "roi_box")
    history: dict = {k: [] for k in ("loss", "objectness", "classification", "box", *keys)}
    bar = tqdm(total=num_steps, desc="two-stage", disable=not progress, unit="step")
    order, position, step = rng.permutation(len(X)), 0, 0
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
        terms = two_stage_loss(
            model,
            batch,
            [b.to(device) for b in batch_boxes],
            [gt_labels[i].to(device) for i in index],
            generator,
            bf16,
        )
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        step += 1
        values = (terms.total, terms.rpn_objectness, terms.roi_classification)
        for key, value in zip(("loss", "objectness", "classification"), values, strict=True):
            history[key].append(float(value.detach()))
        history["box"].append(float(terms.rpn_box.detach() + terms.roi_box.detach()))
        for key in keys:
            history[key].append(float(getattr(terms, key).detach()))
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
