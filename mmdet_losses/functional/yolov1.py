"""The YOLOv1 loss, its grid targets and its decoding.

Redmon, Divvala, Girshick and Farhadi, "You Only Look Once: Unified,
Real-Time Object Detection", CVPR 2016 (arXiv:1506.02640), section 2 and
equation (3).

The image is split into an ``S x S`` grid. The cell holding an object's
centre is responsible for it; each cell predicts ``B`` boxes with a
confidence each, and one set of ``C`` conditional class probabilities.

**Layout** (the paper's ``S x S x (B * 5 + C)`` tensor, channels last):
``pred[n, i, j]`` is the cell of row ``i``, column ``j``; its channels
``5 * b: 5 * b + 5`` hold predictor ``b``'s ``(x, y, w, h, confidence)`` and
the last ``C`` channels ``Pr(class | object)``.

**Box format 'yolov1'**: ``(x, y)`` is the box centre's offset inside its
cell in cell units (``[0, 1]`` inside the cell), ``(w, h)`` the box size as
a fraction of the input width and height. :func:`yolov1_to_cxcywh` maps it
to centre-size boxes in pixels, from where ``functional.boxes`` converts.

**Loss** (sums over the grid, per image)::

    l_coord sum_resp [(x - x^)^2 + (y - y^)^2]
  + l_coord sum_resp [(sqrt w - sqrt w^)^2 + (sqrt h - sqrt h^)^2]
  +         sum_resp (c - IoU(box, gt))^2
  + l_noobj sum_other c^2
  +         sum_cells_with_object sum_classes (p - onehot)^2

"resp" are the responsible predictors: in a cell holding an object, the one
whose current box has the highest IoU with the object (the lowest index on
a tie); "other" is every other predictor of every cell.
"""
from typing import Dict, NamedTuple, Sequence, Tuple

import torch
from torch import Tensor

from .boxes import cxcywh_to_xyxy, xyxy_to_cxcywh
from .checks import device_checks_enabled, label_targets
from .iou_geometry import pair_geometry

__all__ = [
    'YOLOv1Targets', 'yolov1_encode_targets', 'yolov1_loss',
    'yolov1_loss_terms', 'yolov1_to_cxcywh', 'yolov1_decode', 'safe_sqrt'
]

# Where safe_sqrt leaves the square root for its tangent. In the 'yolov1'
# format w and h are fractions of the input size, so 1e-4 is 0.045 pixel of
# a 448-pixel input: every real box lies above it, and the slope at zero is
# 1 / (2 * sqrt(1e-4)) = 50 instead of infinite.
SQRT_EPS = 1e-4
# Floor of the union in the IoU of a prediction with its object, in units of
# the input's area (box_iou's default).
IOU_EPS = 1e-6


class YOLOv1Targets(NamedTuple):
    """Per-cell targets: ``boxes`` (N, S, S, 4) in the 'yolov1' format
    (zeros in cells without an object), ``labels`` (N, S, S), the class of
    the cell's object or ``num_classes`` where the cell holds none, and
    ``num_classes``, which lets the loss check the layout of its input."""
    boxes: Tensor
    labels: Tensor
    num_classes: int


def safe_sqrt(x: Tensor, eps: float = SQRT_EPS) -> Tensor:
    """``sqrt(x)`` for ``x >= eps``, its tangent at ``eps`` below.

    The square root's slope is infinite at 0 and it has no real value
    below, so a predicted width that reaches 0 (or a linear output that goes
    negative) would give an infinite or NaN gradient. The tangent keeps the
    function exact wherever a box can be and its gradient finite everywhere,
    at most ``1 / (2 sqrt(eps))``, pointing towards larger sizes.
    """
    root_eps = eps**0.5
    root = x.clamp(min=eps).sqrt()
    tangent = root_eps + (x - eps) / (2 * root_eps)
    return torch.where(x >= eps, root, tangent)


def yolov1_to_cxcywh(boxes: Tensor, image_size: Tuple[int, int]) -> Tensor:
    """Boxes in the 'yolov1' format to ``(cx, cy, w, h)`` in pixels.

    Args:
        boxes: (N, S, S, ..., 4); the grid sits in dimensions 1 and 2.
        image_size: ``(height, width)`` of the input the grid covers.
    """
    if boxes.dim() < 4 or boxes.shape[1] != boxes.shape[2]:
        raise ValueError('boxes in the yolov1 format must be shaped '
                         f'(N, S, S, ..., 4), got {tuple(boxes.shape)}')
    height, width = image_size
    grid = boxes.shape[1]
    steps = torch.arange(grid, dtype=boxes.dtype, device=boxes.device)
    extra = (1, ) * (boxes.dim() - 4)
    col = steps.view(1, 1, grid, *extra)
    row = steps.view(1, grid, 1, *extra)
    x, y, w, h = boxes.unbind(-1)
    return torch.stack([(col + x) * (width / grid),
                        (row + y) * (height / grid), w * width, h * height],
                       -1)


def _check_gt(index: int, boxes: Tensor, labels: Tensor, num_classes: int,
              image_size: Tuple[int, int], tolerance: float) -> None:
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'image {index}: gt boxes must be shaped (K, 4) '
                         f'xyxy, got {tuple(boxes.shape)}')
    if labels.shape != boxes.shape[:1]:
        raise ValueError(f'image {index}: {len(boxes)} gt boxes but labels '
                         f'shaped {tuple(labels.shape)}')
    if boxes.device.type != 'cpu' and not device_checks_enabled():
        return  # the value checks below cost a device-to-host sync
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        k = int(bad.nonzero()[0])
        raise ValueError(f'image {index}, gt {k}: label {int(labels[k])} is '
                         f'outside [0, {num_classes - 1}] (num_classes='
                         f'{num_classes})')
    height, width = image_size
    x1, y1, x2, y2 = boxes.unbind(-1)
    problems = [
        (~torch.isfinite(boxes).all(-1), 'is not finite'),
        ((x2 < x1) | (y2 < y1), 'is inverted (x2 < x1 or y2 < y1)'),
        ((x1 < -tolerance) | (y1 < -tolerance) | (x2 > width + tolerance) |
         (y2 > height + tolerance),
         f'lies outside the {width} x {height} input (tolerance '
         f'{tolerance})'),
    ]
    for mask, what in problems:
        if mask.any():
            k = int(mask.nonzero()[0])
            raise ValueError(f'image {index}, gt {k}: box '
                             f'{[round(v, 3) for v in boxes[k].tolist()]} '
                             f'(xyxy) {what}')


def yolov1_encode_targets(gt_boxes: Sequence[Tensor],
                          gt_labels: Sequence[Tensor],
                          grid_size: int,
                          num_classes: int,
                          image_size: Tuple[int, int],
                          tolerance: float = 1.0) -> YOLOv1Targets:
    """Assign each image's objects to the cells holding their centres.

    A cell takes one object (the paper's model predicts one class per
    cell): where several centres fall into one cell, the object of the
    largest area wins, and of equal areas the one listed first. A centre on
    a cell border belongs to the cell right of / below it, a centre on the
    input's right or bottom edge to the last cell.

    Args:
        gt_boxes: per image, (K, 4) xyxy boxes in pixels of the input.
        gt_labels: per image, (K,) class indices in ``[0, num_classes)``.
        grid_size: S.
        num_classes: C.
        image_size: ``(height, width)`` of the input the grid covers (for
            an mmdet batch, ``batch_input_shape``).
        tolerance: how far, in pixels, a box may reach outside the input.

    Returns:
        :class:`YOLOv1Targets`.

    Raises:
        ValueError: a label outside ``[0, num_classes)``, or a box that is
            not finite, inverted or outside the input, naming the image,
            the object and the value.
    """
    height, width = image_size
    num_images = len(gt_boxes)
    if len(gt_labels) != num_images:
        raise ValueError(f'{num_images} images of gt boxes but '
                         f'{len(gt_labels)} of gt labels')
    device = gt_boxes[0].device if num_images else None
    dtype = gt_boxes[0].dtype if num_images else torch.float32
    boxes_out = torch.zeros(
        num_images, grid_size, grid_size, 4, dtype=dtype, device=device)
    labels_out = torch.full((num_images, grid_size, grid_size),
                            num_classes,
                            dtype=torch.long,
                            device=device)
    for n, (boxes, labels) in enumerate(zip(gt_boxes, gt_labels)):
        _check_gt(n, boxes, labels, num_classes, image_size, tolerance)
        if len(boxes) == 0:
            continue
        cx, cy, w, h = xyxy_to_cxcywh(boxes).unbind(-1)
        col = (cx * (grid_size / width)).floor().long().clamp(0, grid_size - 1)
        row = (cy *
               (grid_size / height)).floor().long().clamp(0, grid_size - 1)
        cell = row * grid_size + col
        # Rank objects by area (largest first; the stable sort keeps the
        # listed order among equals), then give each cell its best-ranked
        # object: the smallest rank that lands in it.
        order = torch.sort(w * h, descending=True, stable=True).indices
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order), device=order.device)
        best = torch.full((grid_size * grid_size, ),
                          len(order),
                          dtype=torch.long,
                          device=order.device)
        best.scatter_reduce_(0, cell, rank, reduce='amin')
        winner = best[cell] == rank
        k = winner.nonzero().squeeze(1)
        r, c = row[k], col[k]
        boxes_out[n, r, c] = torch.stack([
            cx[k] * (grid_size / width) - c, cy[k] *
            (grid_size / height) - r, w[k] / width, h[k] / height
        ], -1)
        labels_out[n, r, c] = labels[k].long()
    return YOLOv1Targets(boxes_out, labels_out, num_classes)


def _split(pred: Tensor, num_boxes: int) -> Tuple[Tensor, Tensor, Tensor]:
    """(boxes (N, S, S, B, 4), confidences (N, S, S, B), class
    probabilities (N, S, S, C)) from the paper's layout."""
    if pred.dim() != 4 or pred.shape[1] != pred.shape[2]:
        raise ValueError('pred must be shaped (N, S, S, B * 5 + C), got '
                         f'{tuple(pred.shape)}')
    num_classes = pred.shape[-1] - 5 * num_boxes
    if num_classes < 1:
        raise ValueError(f'pred has {pred.shape[-1]} channels per cell, too '
                         f'few for {num_boxes} boxes (5 each) and a class')
    boxes = pred[..., :5 * num_boxes].unflatten(-1, (num_boxes, 5))
    return boxes[..., :4], boxes[..., 4], pred[..., 5 * num_boxes:]


def _responsible(pred_boxes: Tensor, target_boxes: Tensor,
                 has_object: Tensor) -> Tuple[Tensor, Tensor]:
    """The responsible predictor of every cell holding an object, and the
    IoU of each predictor's box with the cell's object.

    Returns:
        responsible: (N, S, S, B) bool, one True per cell with an object.
        iou: (N, S, S, B), 0 in cells without an object; no gradient.
    """
    # IoU is unchanged by scaling either axis, so any frame will do; the
    # unit image keeps the numbers near 1. A negative size (possible with
    # an unbounded head) counts as an empty box.
    pred = pred_boxes.detach().clone()
    pred[..., 2:] = pred[..., 2:].clamp(min=0)
    pred = cxcywh_to_xyxy(yolov1_to_cxcywh(pred, (1, 1)))
    target = cxcywh_to_xyxy(yolov1_to_cxcywh(target_boxes.detach(), (1, 1)))
    # the aligned form of the package's IoU geometry (coordinates first)
    iou = pair_geometry(
        pred.movedim(-1, 0), target[..., None, :].movedim(-1, 0),
        eps=IOU_EPS).iou
    iou = iou * has_object[..., None].to(iou.dtype)
    # argmax returns the first maximum: ties go to the lowest index
    best = iou.argmax(-1, keepdim=True)
    responsible = torch.zeros_like(
        iou, dtype=torch.bool).scatter_(-1, best, True) & has_object[..., None]
    return responsible, iou


def yolov1_loss_terms(pred: Tensor,
                      target: YOLOv1Targets,
                      num_boxes: int = 2,
                      lambda_coord: float = 5.0,
                      lambda_noobj: float = 0.5,
                      eps: float = SQRT_EPS) -> Dict[str, Tensor]:
    """The five sum-squared terms of YOLOv1's loss, per image.

    Args:
        pred: (N, S, S, B * 5 + C) in the module's layout (see the module
            docstring), already activated: box values in the 'yolov1'
            format, confidences and class probabilities.
        target: from :func:`yolov1_encode_targets`.
        num_boxes: B.
        lambda_coord: weight of the coordinate terms (paper: 5).
        lambda_noobj: weight of the confidence of predictors that are not
            responsible for an object (paper: 0.5).
        eps: of :func:`safe_sqrt` on the predicted width and height.

    Returns:
        ``{'xy', 'wh', 'conf_obj', 'conf_noobj', 'cls'}``, each (N,): the
        weighted sum of that term over the image's grid. They add up to
        :func:`yolov1_loss`. The confidence target of a responsible
        predictor, its box's IoU with the object, carries no gradient.
    """
    boxes, conf, probs = _split(pred, num_boxes)
    target_boxes, labels, num_classes = target
    if probs.shape[-1] != num_classes:
        raise ValueError(
            f'pred has {pred.shape[-1]} channels per cell: with num_boxes='
            f'{num_boxes} that leaves {probs.shape[-1]} class channels, but '
            f'the targets were encoded for {num_classes} classes')
    if target_boxes.shape != boxes.shape[:3] + (4, ) or \
            labels.shape != boxes.shape[:3]:
        raise ValueError(
            f'targets shaped {tuple(target_boxes.shape)} and '
            f'{tuple(labels.shape)} do not match pred '
            f'{tuple(pred.shape)} (expected (N, S, S, 4) and (N, S, S))')
    bad = (labels < 0) | (labels > num_classes)
    if bad.any():
        n, i, j = bad.nonzero()[0].tolist()
        raise ValueError(f'target label {int(labels[n, i, j])} in image {n}, '
                         f'cell ({i}, {j}) is outside [0, {num_classes}] '
                         f'({num_classes} = no object)')
    has_object = labels < num_classes
    responsible, iou = _responsible(boxes, target_boxes, has_object)
    resp = responsible.to(pred.dtype)
    target_b = target_boxes[..., None, :]  # broadcast over the B predictors

    xy = ((boxes[..., :2] - target_b[..., :2])**2).sum(-1)
    wh = ((safe_sqrt(boxes[..., 2:], eps) -
           target_b[..., 2:].clamp(min=0).sqrt())**2).sum(-1)
    conf_obj = (conf - iou)**2
    conf_noobj = conf**2
    cls = ((probs - label_targets(labels, num_classes, probs))**2).sum(-1)

    def per_image(x: Tensor) -> Tensor:
        return x.flatten(1).sum(1)

    return dict(
        xy=lambda_coord * per_image(resp * xy),
        wh=lambda_coord * per_image(resp * wh),
        conf_obj=per_image(resp * conf_obj),
        conf_noobj=lambda_noobj * per_image((1 - resp) * conf_noobj),
        cls=per_image(has_object.to(pred.dtype) * cls))


def yolov1_loss(pred: Tensor,
                target: YOLOv1Targets,
                num_boxes: int = 2,
                lambda_coord: float = 5.0,
                lambda_noobj: float = 0.5,
                eps: float = SQRT_EPS) -> Tensor:
    """YOLOv1's loss (equation 3 of the paper) per image, shape (N,): the sum
    of :func:`yolov1_loss_terms`. The paper's batch loss is its mean."""
    terms = yolov1_loss_terms(pred, target, num_boxes, lambda_coord,
                              lambda_noobj, eps)
    return sum(terms.values())


def yolov1_decode(pred: Tensor, num_boxes: int,
                  image_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Every predicted box in pixels, with its class-specific confidences.

    Args:
        pred: (N, S, S, B * 5 + C), activated, in the module's layout.
        num_boxes: B.
        image_size: ``(height, width)`` of the input the grid covers.

    Returns:
        boxes: (N, S * S * B, 4) xyxy in pixels of the input, cell by cell
            in row-major order, the B predictors of a cell together.
        scores: (N, S * S * B, C), ``Pr(class | object) * confidence``
            (the paper's test-time score, equation 1).
    """
    boxes, conf, probs = _split(pred, num_boxes)
    xyxy = cxcywh_to_xyxy(yolov1_to_cxcywh(boxes, image_size))
    scores = probs[..., None, :] * conf[..., None]
    return xyxy.flatten(1, 3), scores.flatten(1, 3)
