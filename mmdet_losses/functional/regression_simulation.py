"""The bounding-box regression simulation of the DIoU paper.

Zheng et al., "Distance-IoU Loss: Faster and Better Learning for Bounding
Box Regression", AAAI 2020 (arXiv:1911.08287), section "Simulation
Experiment" and Fig. 3: 7 target boxes of area 1 at (10, 10) with aspect
ratios 1:4 ... 4:1; 5000 anchor centres drawn uniformly in the disc of radius
3 around them; at each centre 7 areas x 7 aspect ratios, each regressed to
each target: 1,715,000 cases. Every case follows gradient descent on its box
``B = (x, y, w, h)``::

    B_t = B_{t-1} - eta_t (2 - IoU_{t-1}) dL/dB,   t = 1 ... 200,

with ``eta_t = 0.1`` up to t = 160, ``0.01`` up to 180 and ``0.001`` up to
200, and the error of a case is ``|dx| + |dy| + |dw| + |dh|``.

Two gradient modes:

* ``'exact'``: ``dL/dB`` by autograd through this package's losses of the
  ``xyxy`` boxes (:mod:`.iou_family`: IoU as ``1 - IoU``, the paper's form,
  CIoU with alpha never gated; and, as options, :mod:`.regression`'s L1 and
  smooth L1 with beta 1, summed over the 4 corners), with ``w`` and ``h``
  clamped at ``1e-3`` after each step.
* ``'authors'``: the convention of the authors' released simulation, which
  made the paper's curves: a hand-written "gradient" ``g`` of the metric
  (IoU, GIoU, DIoU or CIoU, not of the loss) and ``B <- B + eta (2 - IoU) g``
  with no clamp. :func:`authors_ascent` states its rules; they differ from
  the exact derivative (doubled ``w``/``h`` steps, signed intersection sides
  where boxes do not overlap, shared enclosing-box derivatives, a dropped
  ``1 / (w^2 + h^2)`` in CIoU).

Everything is vectorised over cases (float64 advised); :func:`simulate` runs
the cases in chunks of anchor centres so memory stays bounded.
"""
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .boxes import cxcywh_to_xyxy
from .iou_family import ciou_loss, diou_loss, giou_loss, iou_loss
from .regression import l1_loss, smooth_l1_loss

#: aspect ratios ``w : h`` of the targets and of the anchors
ASPECT_RATIOS = (1 / 4, 1 / 3, 1 / 2, 1.0, 2.0, 3.0, 4.0)
#: anchor areas, in units of the (unit) target area
ANCHOR_AREAS = (0.5, 0.67, 0.75, 1.0, 1.33, 1.5, 2.0)
TARGET_CENTRE = (10.0, 10.0)
CENTRE_RADIUS = 3.0
#: cases per anchor centre: 7 targets x 7 areas x 7 ratios
CASES_PER_CENTRE = len(ASPECT_RATIOS) * len(ANCHOR_AREAS) * len(ASPECT_RATIOS)

IOU_LOSSES = ('iou', 'giou', 'diou', 'ciou')
LOSSES = IOU_LOSSES + ('l1', 'smooth_l1')
MODES = ('exact', 'authors')
MIN_SIZE = 1e-3  # exact mode: w and h are clamped here after each step


@dataclass
class SimulationCases:
    """The regression cases, all in ``cxcywh`` format.

    Attributes:
        centres: (C, 2) anchor centres.
        anchors: (C, 343, 4) anchors; case ``k`` of a centre regresses to
            ``targets[k]``; ``k = (target * 7 + area) * 7 + ratio``.
        targets: (343, 4) the target of each case of a centre.
    """
    centres: Tensor
    anchors: Tensor
    targets: Tensor

    @property
    def num_cases(self) -> int:
        return self.anchors.shape[0] * self.anchors.shape[1]


@dataclass
class SimulationResult:
    """What one loss in one gradient mode did to all the cases.

    Attributes:
        loss, mode: as passed to :func:`simulate`.
        error: (T + 1,) the l1 error ``|dx| + |dy| + |dw| + |dh|`` summed
            over all cases, before the first step (index 0) and after each
            step ``t`` (index ``t``).
        final_error: (C,) the error after the last step, summed over the
            343 cases of each anchor centre.
    """
    loss: str
    mode: str
    error: Tensor
    final_error: Tensor


def make_cases(num_centres: int = 5000,
               seed: int = 0,
               dtype: torch.dtype = torch.float64) -> SimulationCases:
    """The paper's regression cases around ``num_centres`` anchor centres.

    Centres are uniform in the disc (radius ``3 sqrt(u)``, angle
    ``2 pi u'``) from ``numpy.random.default_rng(seed)``, one pair of draws
    per centre, so a run with fewer centres and the same seed takes the
    first centres of the full run.
    """
    if num_centres < 1:
        raise ValueError(f'num_centres must be >= 1, got {num_centres}')
    draws = np.random.default_rng(seed).random((num_centres, 2))
    radius = CENTRE_RADIUS * np.sqrt(draws[:, 0])
    angle = 2 * np.pi * draws[:, 1]
    centres = torch.tensor(
        np.stack([
            TARGET_CENTRE[0] + radius * np.cos(angle),
            TARGET_CENTRE[1] + radius * np.sin(angle)
        ], 1),
        dtype=dtype)

    ratios = torch.tensor(ASPECT_RATIOS, dtype=dtype)
    areas = torch.tensor(ANCHOR_AREAS, dtype=dtype)
    # a box of area A and ratio w:h = r has w = sqrt(A r), h = sqrt(A / r)
    target_wh = torch.stack([ratios.sqrt(), ratios.rsqrt()], -1)  # (7, 2)
    anchor_wh = (areas[:, None, None].sqrt() * target_wh[None, :, :]
                 )  # (area, ratio, 2); target area 1
    anchor_wh = anchor_wh.expand(len(ASPECT_RATIOS), -1, -1, -1)
    anchor_wh = anchor_wh.reshape(1, CASES_PER_CENTRE, 2)
    anchors = torch.cat([
        centres[:, None, :].expand(-1, CASES_PER_CENTRE, -1),
        anchor_wh.expand(num_centres, -1, -1)
    ], -1)

    per_target = len(ANCHOR_AREAS) * len(ASPECT_RATIOS)
    target_xy = torch.tensor(
        TARGET_CENTRE, dtype=dtype).expand(CASES_PER_CENTRE, 2)
    targets = torch.cat(
        [target_xy, target_wh.repeat_interleave(per_target, 0)], -1)
    return SimulationCases(centres, anchors.contiguous(), targets)


def learning_rate(t: int,
                  base: float = 0.1,
                  milestones: Sequence[int] = (160, 180),
                  gamma: float = 0.1) -> float:
    """The paper's step schedule: ``base`` for steps ``t <= 160``,
    ``base * gamma`` to 180, ``base * gamma^2`` after (steps count from 1).
    """
    return base * gamma**sum(t > m for m in milestones)


def _edges(boxes: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Top, bottom, left, right edges of ``cxcywh`` boxes (y grows down)."""
    x, y, w, h = boxes.unbind(-1)
    return y - h / 2, y + h / 2, x - w / 2, x + w / 2


def _edges_to_box(d_edges: Tensor) -> Tensor:
    """The authors' map from d/d(t, b, l, r) to d/d(x, y, w, h), (4, N).

    The chain rule gives ``dw = (dr - dl) / 2``; the authors drop the half,
    so their ``w`` and ``h`` steps are twice the exact ones.
    """
    dt, db, dl, dr = d_edges
    return torch.stack([dl + dr, dt + db, dr - dl, db - dt])


def authors_ascent(boxes: Tensor, targets: Tensor,
                   loss: str) -> Tuple[Tensor, Tensor]:
    """The authors' ascent direction of the metric, and the IoU.

    The rules of the simulation released with the DIoU paper
    (github.com/Zzh-tju/DIoU, "simulation experiment"), re-stated on
    tensors. With edges ``t, b, l, r``, the intersection box's signed sides
    ``iw, ih`` (negative where the boxes are apart on that axis; never
    clamped), ``I = iw ih`` and ``U = A_p + A_g - I``:

    * IoU: ``dI/d(t, b, l, r) = (-iw [t > t_g], iw [b < b_g],
      -ih [l > l_g], ih [r < r_g])``, ``dU = (-w, w, -h, h) - dI``,
      ``dIoU = (U dI - I dU) / U^2`` where the boxes overlap, else 0. (The
      authors also copy the ``b``/``r`` value onto ``t``/``l`` for a
      degenerate box; such a box never overlaps, so its ``dIoU`` is already
      0 and the rule changes nothing.)
    * GIoU: ``dIoU + (C dU - U dC) / C^2`` with the enclosing area ``C``,
      ``dC = (-cw [t < t_g], cw [b > b_g], -ch [l < l_g], ch [r > r_g])``;
      ``U`` and ``dU`` use the signed ``I`` also where the boxes are apart.
    * Edges to box: ``(dl + dr, dt + db, dr - dl, db - dt)``.
    * DIoU: the IoU part plus a distance part in ``(x, y, w, h)``: one
      vector ``D`` (the enclosing edges' moves) stands for the derivative of
      both ``cw`` and ``ch``; its ``w`` (``h``) entry becomes -1 for ``cw``
      (``ch``) where the prediction spans the target on that axis;
      ``K = 2 cw D_cw + 2 ch D_ch``; ``g_x = (2 (x_g - x) c^2 - K_x rho^2)
      / c^4``, ``g_w = K_w rho^2 / c^4`` (same for ``y``, ``h``).
    * CIoU: DIoU plus ``alpha (8 / pi^2) (atan(w_g / h_g) - atan(w / h))``
      times ``h`` on ``g_w`` and times ``-w`` on ``g_h``,
      ``alpha = v / (1 - IoU + v + 1e-7)`` (the exact derivative also has a
      factor ``1 / (w^2 + h^2)``).

    Args:
        boxes: (N, 4) predictions, ``cxcywh``.
        targets: (N, 4) targets, ``cxcywh``.
        loss: one of ``'iou'``, ``'giou'``, ``'diou'``, ``'ciou'``.

    Returns:
        ``g`` (N, 4), the direction of ``(x, y, w, h)`` the authors step
        along (``B <- B + eta (2 - IoU) g``), and the IoU (N,), 0 where the
        boxes do not overlap.
    """
    if loss not in IOU_LOSSES:
        raise ValueError(f'the authors\' convention has rules for '
                         f'{IOU_LOSSES} only, not {loss!r}')
    # Coordinates are stacked on dim 0 and returned transposed: with boxes
    # stored that way (see simulate) every column is contiguous, which makes
    # these element-wise ops several times faster.
    x, y, w, h = boxes.unbind(-1)
    xg, yg, wg, hg = targets.unbind(-1)
    t, b, l, r = _edges(boxes)
    tg, bg, lg, rg = _edges(targets)
    zero = torch.zeros_like(x)

    iw = torch.minimum(r, rg) - torch.maximum(l, lg)
    ih = torch.minimum(b, bg) - torch.maximum(t, tg)
    overlap = (iw > 0) & (ih > 0)
    inter = iw * ih
    union = w * h + wg * hg - inter
    iou = torch.where(overlap, inter / union, zero)
    d_inter = torch.stack([
        torch.where(t > tg, -iw, zero),
        torch.where(b < bg, iw, zero),
        torch.where(l > lg, -ih, zero),
        torch.where(r < rg, ih, zero)
    ])
    d_union = torch.stack([-w, w, -h, h]) - d_inter
    d_edges = torch.where(overlap,
                          (union * d_inter - inter * d_union) / union**2, zero)

    cw = torch.maximum(r, rg) - torch.minimum(l, lg)
    ch = torch.maximum(b, bg) - torch.minimum(t, tg)
    if loss == 'giou':
        enclose = cw * ch
        d_enclose = torch.stack([
            torch.where(t < tg, -cw, zero),
            torch.where(b > bg, cw, zero),
            torch.where(l < lg, -ch, zero),
            torch.where(r > rg, ch, zero)
        ])
        d_edges = d_edges + (enclose * d_union -
                             union * d_enclose) / enclose**2
    g = _edges_to_box(d_edges)
    if loss == 'iou' or loss == 'giou':
        return g.T, iou

    # which enclosing edges belong to the prediction
    top, bottom = (t < tg).to(x), (b > bg).to(x)
    left, right = (l < lg).to(x), (r > rg).to(x)
    d_x, d_y = right - left, bottom - top
    d_w, d_h = 0.5 * (right + left), 0.5 * (bottom + top)
    minus_one = torch.full_like(x, -1.0)
    d_w_of_cw = torch.where((left * right) > 0, minus_one, d_w)
    d_h_of_ch = torch.where((top * bottom) > 0, minus_one, d_h)
    k_x = 2 * (cw + ch) * d_x
    k_y = 2 * (cw + ch) * d_y
    k_w = 2 * cw * d_w_of_cw + 2 * ch * d_w
    k_h = 2 * cw * d_h + 2 * ch * d_h_of_ch
    rho2 = (x - xg)**2 + (y - yg)**2
    c2 = cw**2 + ch**2
    g = g + torch.stack([
        2 * (xg - x) * c2 - k_x * rho2,
        2 * (yg - y) * c2 - k_y * rho2,
        k_w * rho2,
        k_h * rho2,
    ]) / c2**2
    if loss == 'ciou':
        delta = torch.atan(wg / hg) - torch.atan(w / h)
        v = 4 / math.pi**2 * delta**2
        alpha = v / (1 - iou + v + 1e-7)
        step = alpha * 8 / math.pi**2 * delta
        g = g + torch.stack([zero, zero, step * h, -step * w])
    return g.T, iou


def _exact_loss(loss: str) -> Callable[[Tensor, Tensor], Tensor]:
    """Per-box loss of xyxy boxes, (N, 4) x (N, 4) -> (N,)."""
    if loss == 'iou':
        # the DIoU paper's IoU loss is 1 - IoU
        return lambda pred, target: iou_loss(pred, target, mode='linear')
    if loss == 'giou':
        return giou_loss
    if loss == 'diou':
        return diou_loss
    if loss == 'ciou':
        return lambda pred, target: ciou_loss(
            pred, target, alpha_iou_threshold=None)
    if loss == 'l1':
        return lambda pred, target: l1_loss(
            pred, target, reduction='none').sum(-1)
    if loss == 'smooth_l1':
        return lambda pred, target: smooth_l1_loss(
            pred, target, reduction='none', beta=1.0).sum(-1)
    raise ValueError(f'unknown simulation loss {loss!r}; choose from '
                     f'{LOSSES}')


def exact_descent(boxes: Tensor, targets: Tensor,
                  loss: str) -> Tuple[Tensor, Tensor]:
    """``-dL/dB`` by autograd through this package's loss, and the IoU.

    Args:
        boxes: (N, 4) predictions, ``cxcywh``.
        targets: (N, 4) targets, ``cxcywh``.
        loss: one of :data:`LOSSES`; the box losses see xyxy boxes.

    Returns:
        The descent direction (N, 4) in ``(x, y, w, h)`` and the IoU (N,).
    """
    loss_fn = _exact_loss(loss)
    target_xyxy = cxcywh_to_xyxy(targets)
    with torch.enable_grad():
        leaf = boxes.detach().requires_grad_(True)
        value = loss_fn(cxcywh_to_xyxy(leaf), target_xyxy)
        grad, = torch.autograd.grad(value.sum(), leaf)
    with torch.no_grad():
        # iou_loss floors the IoU at 1e-6: boxes apart get a step factor
        # 2 - 1e-6 instead of 2
        iou = 1 - iou_loss(cxcywh_to_xyxy(boxes), target_xyxy, mode='linear')
    return -grad, iou


def simulation_step(boxes: Tensor, targets: Tensor, loss: str, mode: str,
                    lr: float) -> Tensor:
    """One step ``B + lr (2 - IoU) direction`` of every case."""
    if mode == 'exact':
        direction, iou = exact_descent(boxes, targets, loss)
    elif mode == 'authors':
        direction, iou = authors_ascent(boxes, targets, loss)
    else:
        raise ValueError(f'unknown gradient mode {mode!r}; choose from '
                         f'{MODES}')
    boxes = boxes + lr * (2 - iou)[:, None] * direction
    if mode == 'exact':
        # in place on the fresh sum: keeps the memory layout of the inputs
        boxes[:, 2:] = boxes[:, 2:].clamp(min=MIN_SIZE)
    return boxes


def simulate(cases: SimulationCases,
             loss: str,
             mode: str = 'exact',
             iterations: int = 200,
             chunk_centres: int = 500,
             progress: Optional[Callable[[str],
                                         None]] = None) -> SimulationResult:
    """Regress every case for ``iterations`` steps of the paper's schedule.

    Args:
        cases: from :func:`make_cases`.
        loss: one of :data:`LOSSES` (``'authors'`` mode: :data:`IOU_LOSSES`).
        mode: ``'exact'`` or ``'authors'``.
        iterations: T, 200 in the paper.
        chunk_centres: anchor centres regressed together; bounds memory
            (CIoU: about 0.15 MB per centre in exact mode, 0.25 MB in the
            authors' mode, measured as peak RSS growth).
        progress: called with a line of text after each chunk.
    """
    if mode not in MODES:
        raise ValueError(f'unknown gradient mode {mode!r}; choose from '
                         f'{MODES}')
    allowed = LOSSES if mode == 'exact' else IOU_LOSSES
    if loss not in allowed:
        raise ValueError(f'{mode} mode simulates {allowed}, not {loss!r}')
    if chunk_centres < 1:
        raise ValueError(f'chunk_centres must be >= 1, got {chunk_centres}')
    num_centres = cases.anchors.shape[0]
    error = torch.zeros(iterations + 1, dtype=torch.float64)
    final_error = torch.zeros(num_centres, dtype=torch.float64)
    for start in range(0, num_centres, chunk_centres):
        anchors = cases.anchors[start:start + chunk_centres]
        n = anchors.shape[0]
        # (N, 4) views of (4, N) storage: contiguous columns, faster ops
        boxes = anchors.reshape(-1, 4).T.contiguous().T
        targets = cases.targets.repeat(n, 1).T.contiguous().T
        case_error = (boxes - targets).abs().sum(-1)
        error[0] += case_error.sum()
        for t in range(1, iterations + 1):
            boxes = simulation_step(boxes, targets, loss, mode,
                                    learning_rate(t))
            case_error = (boxes - targets).abs().sum(-1)
            error[t] += case_error.sum()
        final_error[start:start + n] = case_error.view(n, -1).sum(1)
        if progress is not None:
            progress(f'{loss}/{mode}: {start + n}/{num_centres} centres, '
                     f'summed error {error[iterations]:.4g}')
    return SimulationResult(loss, mode, error, final_error)
