"""PIoU, the pixel IoU of two rotated boxes, and the PIoU loss.

Z. Chen et al., "PIoU Loss: Towards Accurate Oriented Object Detection in
Complex Environments", ECCV 2020, arXiv:2007.09584.

Boxes are ``rbox``: ``(cx, cy, w, h, angle)``, pixels, angle in radians,
image coordinates (x right, y down), the w side along ``(cos a, sin a)``
and the h side along ``(-sin a, cos a)``. This is the orientation of
``mmcv.ops.box_iou_rotated`` (``clockwise=True``) and mmrotate's ``rbox``;
the package's angle convention is le90, ``[-pi/2, pi/2)``, but any angle is
accepted: the value has period pi in the angle.

Definition (the paper's eq. 4-9). A pixel p belongs softly to box b:

    F(p | b) = K(|u|, w / 2) K(|v|, h / 2),    K(d, s) = sigmoid(k (s - d))

where ``u = dx cos a + dy sin a`` and ``v = -dx sin a + dy cos a`` are the
coordinates of ``p - (cx, cy)`` on the box axes. The pixels of a pair are
the unit pixels, centres ``(i + 0.5, j + 0.5)``, that meet the smallest
axis-aligned box covering both boxes (at least one pixel). Over them,

    I = sum F(p|b) F(p|b'),    soft union U = sum F + F' - F F',
    hard union U = w h + w' h' - I,    PIoU = I / U.

The paper's loss is ``-ln PIoU`` averaged over positive pairs; the official
code instead clamps PIoU to [0.1, 1] and takes ``-2 ln``.

Design:

* The projections u, v replace the ``acos`` of the official code, whose
  derivative is infinite on the centre row of a box; here every derivative
  is bounded (``|d/du K| <= k / 4``) and zero-size boxes, coincident
  centres and any angle give finite gradients.
* No image-size or row limit: the pixels of a pair come from the pair's own
  hull (the official kernel stops at row 1000). Only windows beyond
  ``max_hull_pixels`` (4096 x 4096 by default, far beyond any object of a
  1024 px DOTA patch) are sampled on a coarser grid instead of pixel by
  pixel, so that a diverged prediction costs bounded time.
* Memory does not grow with box size. The pixels of all pairs are computed
  in blocks of about ``chunk_pixels`` (rows of pairs whose windows have
  similar widths, side by side, so that the work is broadcasting between
  per-row and per-column vectors). Alongside its three sums, the forward
  accumulates their derivatives with respect to the ten box parameters of
  the pair (the analytic derivatives below, in a custom autograd Function);
  the backward only combines those. Nothing per pixel outlives its block
  and no pixel is computed twice.
* Sums are accumulated in float64; per-pixel terms use the input dtype
  (float32 for half precision inputs). Kernel values below 1/64 of the
  dtype's epsilon are rounded up to that floor (float32: 2e-9), which keeps
  products of memberships out of the slow denormal range.

The derivatives, with ``Ku = sigmoid(k (w/2 - |u|))``,
``Kv = sigmoid(k (h/2 - |v|))``, ``F = Ku Kv`` and the angle ``t``:

    dF/dw = k/2 F (1 - Ku),   dF/du = -k F (1 - Ku) sign(u),  (v, h alike)
    du/dcx = -cos t, du/dcy = -sin t, du/dt = v,
    dv/dcx = sin t,  dv/dcy = -cos t, dv/dt = -u.
"""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from .piou_pixels import PixelPlan, padding_mask, pixel_hull
from .precomputed_grad import autocast_off, compute_dtype
from .rbox import points_in_rbox_frame

__all__ = ['pixel_hull', 'pixel_overlaps', 'pixel_iou', 'piou_loss']

#: default number of (pair, pixel) terms computed at once: some 20 float32
#: arrays of this size live at a time (about 20 MB).
CHUNK_PIXELS = 1 << 18
#: default largest window of one pair computed pixel by pixel (4096 x 4096);
#: larger ones, from diverged predictions, are sampled (pixel_overlaps).
MAX_HULL_PIXELS = 1 << 24

UNIONS = ('soft', 'hard')
MODES = ('log', 'linear', 'official')


def _check_pairs(pred: Tensor, target: Tensor) -> None:
    for name, boxes in (('pred', pred), ('target', target)):
        if boxes.dim() != 2 or boxes.size(-1) != 5:
            raise ValueError(f'{name} must be rotated boxes of shape (N, 5) '
                             f'(cx, cy, w, h, angle), got shape '
                             f'{tuple(boxes.shape)}')
        if not boxes.is_floating_point():
            raise TypeError(f'{name} must be a floating point tensor, got '
                            f'{boxes.dtype}')
    if pred.shape != target.shape:
        raise ValueError(f'pred and target must have the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')
    if pred.device != target.device:
        raise ValueError(f'pred and target are on different devices: '
                         f'{pred.device} and {target.device}')
    for name, boxes in (('pred', pred), ('target', target)):
        bad = ~torch.isfinite(boxes).all(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(f'{name} box {i} is not finite: '
                             f'{boxes[i].tolist()}')
        bad = (boxes[:, 2:4] < 0).any(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(f'{name} box {i} has a negative width or '
                             f'height: {boxes[i].tolist()} (cx, cy, w, h, '
                             f'angle)')


def _box_table(boxes: Tensor, x0: Tensor, y0: Tensor, stride: Tensor,
               dtype: torch.dtype) -> Tensor:
    """Per-box constants of the membership, ``(6, N)``: the steps of
    ``(u, v)`` per sampled column ``(s cos, s sin)`` (``s`` the pair's
    sampling stride, 1 but for oversized windows), ``u0, v0, w/2, h/2``.
    ``(u0, v0)`` are the box-axis coordinates of the pair's first pixel
    centre ``(x0 + 0.5, y0 + 0.5)``, computed in float64, so that
    ``u = u0 + i s cos + j s sin`` loses nothing to large image
    coordinates."""
    b = boxes.double()
    cos, sin = b[:, 4].cos(), b[:, 4].sin()
    first = torch.stack((x0, y0), -1).double() + 0.5
    u0, v0 = points_in_rbox_frame(b, first)
    return torch.stack(
        (cos * stride, sin * stride, u0, v0, 0.5 * b[:, 2], 0.5 * b[:, 3]),
        dim=0).to(dtype)


def _kernels(table: Tensor, row: Tensor, col0: Tensor, col: Tensor, k: float,
             inplace: bool) -> Tuple[Tensor, ...]:
    """Kernel values of a block of pixel rows in one box.

    Args:
        table (Tensor): ``(6, R)`` box constants (:func:`_box_table`) of
            the pair each row belongs to.
        row, col0 (Tensor): ``(R,)`` offsets of each row, and of its first
            pixel, from the pair's first pixel, in samples.
        col (Tensor): ``(W,)`` column offsets ``0 .. W-1`` within a row.
        inplace (bool): reuse buffers (no autograd through the result).

    Returns:
        tuple[Tensor]: ``Ku, Kv, u, v``, each ``(R, W)``; the membership is
        ``F = Ku Kv``.
    """
    cos, sin, u0, v0, half_w, half_h = (t[:, None] for t in table)
    row, col0 = row[:, None], col0[:, None]
    u = torch.addcmul(u0 + row * sin + col0 * cos, cos, col)
    v = torch.addcmul(v0 + row * cos - col0 * sin, sin, col, value=-1)
    # Far from a box the kernel is rounded up to eps/64 of the dtype (for
    # float32, k (s - d) >= -20: 2e-9), below the resolution of any sum.
    # Without the floor, products of memberships fall into the denormal
    # range, where a CPU computes several times slower.
    floor = math.log(torch.finfo(u.dtype).eps / 64)
    out = []
    for half, coord in ((half_w, u), (half_h, v)):
        arg = torch.add(k * half, coord.abs(), alpha=-k)
        out.append(
            arg.clamp_(min=floor).sigmoid_() if inplace else arg.clamp(
                min=floor).sigmoid())
    return out[0], out[1], u, v


class _PixelOverlaps(torch.autograd.Function):
    """``(I, A, A')``: intersection and soft areas summed over the pixels,
    block by block.

    The backward needs, per pair, only the derivatives of these three sums
    with respect to the ten box parameters; the forward accumulates them
    alongside the sums (the analytic derivatives of the module docstring),
    so no pixel is kept and none is computed twice.

    Per box, with the weight ``w = F`` (for its area) or ``w = F F'`` (for
    the intersection), the pixel sums ``k w (1 - Ku)``, ``k w (1 - Kv)``,
    the same times ``sign(u)``, ``sign(v)``, and ``k w ((1 - Ku) sign(u) v
    - (1 - Kv) sign(v) u)`` give the gradient through :func:`_finish`.
    """

    @staticmethod
    def forward(ctx, pred: Tensor, target: Tensor, k: float, chunk: int,
                max_hull: Optional[int]) -> Tuple[Tensor, Tensor, Tensor]:
        need = ctx.needs_input_grad[:2]
        dtype = compute_dtype(pred)
        plan = PixelPlan(pred, target, chunk, max_hull)
        tables = [
            _box_table(b, plan.x0, plan.y0, plan.stride, dtype)
            for b in (pred, target)
        ]
        n = pred.size(0)
        sums = pred.new_zeros((n, 3), dtype=torch.float64)
        # per box: (area, intersection) x (P_u, P_v, S_u, S_v, T)
        jacobians = [
            pred.new_zeros((n, 2, 5), dtype=torch.float64) if need[b] else None
            for b in range(2)
        ]
        for pair, row, col0, valid, width in plan:
            col = torch.arange(width, device=pair.device, dtype=dtype)
            row, col0 = row.to(dtype), col0.to(dtype)
            kernels = [
                _kernels(t.index_select(1, pair), row, col0, col, k, True)
                for t in tables
            ]
            # rows of F, F' and F F', side by side for batched row sums
            weights = torch.empty((len(pair), 3, width),
                                  dtype=dtype,
                                  device=pair.device)
            for b, (ku, kv, _, _) in enumerate(kernels):
                torch.mul(ku, kv, out=weights[:, b])
            mask = padding_mask(valid, col)
            if mask is not None:
                weights[:, :2] *= mask[:, None]
            torch.mul(weights[:, 0], weights[:, 1], out=weights[:, 2])
            sums.index_add_(0, pair, weights.sum(2).double())
            for b, (ku, kv, u, v) in enumerate(kernels):
                if need[b]:
                    own = weights[:, 0::2] if b == 0 else weights[:, 1:]
                    rows = _jacobian_rows(own, ku, kv, u, v)  # F and F F'
                    jacobians[b].index_add_(0, pair, rows.double())
        # a sample of a strided window stands for stride**2 pixels
        area = plan.stride.double().pow(2)
        sums *= area[:, None]
        jacobians = [
            j * area[:, None, None] for j in jacobians if j is not None
        ]
        ctx.k = k
        ctx.save_for_backward(pred, target, *jacobians)
        out = sums.to(dtype)  # columns: F, F', F F'
        return out[:, 2], out[:, 0], out[:, 1]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_inter: Tensor, g_area1: Tensor, g_area2: Tensor):
        pred, target, *saved = ctx.saved_tensors
        grads = [None, None]
        pairs = ((pred, g_area1), (target, g_area2))
        for b, (boxes, g_area) in enumerate(pairs):
            if ctx.needs_input_grad[b]:
                jac = saved.pop(0)
                upstream = torch.stack((g_area, g_inter), dim=1).double()
                grads[b] = _finish((jac * upstream[:, :, None]).sum(1) * ctx.k,
                                   boxes)
        return grads[0], grads[1], None, None, None


def _jacobian_rows(weights: Tensor, ku: Tensor, kv: Tensor, u: Tensor,
                   v: Tensor) -> Tensor:
    """``(R, 2, 5)`` row sums of ``weights`` (``(R, 2, W)``: F and F F')
    times the five derivative features of one box (:class:`_PixelOverlaps`),
    as one batched matrix product."""
    features = torch.empty((ku.size(0), 5, ku.size(1)),
                           dtype=ku.dtype,
                           device=ku.device)
    w_u, w_v, a_u, a_v, torque = features.unbind(1)
    one = ku.new_ones(())
    torch.sub(one, ku, out=w_u)
    torch.sub(one, kv, out=w_v)
    torch.mul(w_u, u.sign(), out=a_u)
    torch.mul(w_v, v.sign(), out=a_v)
    torch.mul(a_u, v, out=torque)
    torque.addcmul_(a_v, u, value=-1)
    return torch.bmm(weights, features.transpose(1, 2))


def _finish(sums: Tensor, boxes: Tensor) -> Tensor:
    """Box gradients from the pixel sums ``P_u, P_v, S_u, S_v, T`` with
    ``P = dL/d(half size)``, ``S = P sign`` and ``T = S_u v - S_v u``:
    ``dL/du = -S_u``, ``dL/dv = -S_v`` and the chain rule of the module
    docstring."""
    p_u, p_v, s_u, s_v, torque = sums.unbind(1)
    angle = boxes[:, 4].double()
    cos, sin = angle.cos(), angle.sin()
    return torch.stack((cos * s_u - sin * s_v, sin * s_u + cos * s_v,
                        0.5 * p_u, 0.5 * p_v, -torque),
                       dim=1).to(boxes.dtype)


def _pixel_overlaps_dense(pred: Tensor, target: Tensor, k: float,
                          max_hull: Optional[int]) -> Tuple[Tensor, ...]:
    """The same sums with all pixels of a row-width group in memory at once,
    differentiated by autograd: memory grows with the pixel count. Kept
    for comparison (tools/benchmark_piou.py)."""
    dtype = compute_dtype(pred)
    plan = PixelPlan(pred, target, None, max_hull)
    tables = [
        _box_table(b, plan.x0, plan.y0, plan.stride, dtype)
        for b in (pred, target)
    ]
    sums = pred.new_zeros((pred.size(0), 3), dtype=dtype)
    for pair, row, col0, valid, width in plan:
        col = torch.arange(width, device=pair.device, dtype=dtype)
        row, col0 = row.to(dtype), col0.to(dtype)
        f1, f2 = (ku * kv for ku, kv, _, _ in (
            _kernels(t.index_select(1, pair), row, col0, col, k, False)
            for t in tables))
        mask = padding_mask(valid, col)
        if mask is not None:
            f1, f2 = f1 * mask, f2 * mask
        terms = torch.stack(((f1 * f2).sum(1), f1.sum(1), f2.sum(1)), dim=1)
        sums = sums.index_add(0, pair, terms)
    sums = sums * plan.stride.to(dtype).pow(2)[:, None]
    return sums[:, 0], sums[:, 1], sums[:, 2]


def pixel_overlaps(pred: Tensor,
                   target: Tensor,
                   k: float = 10.0,
                   chunk_pixels: int = CHUNK_PIXELS,
                   max_hull_pixels: Optional[int] = MAX_HULL_PIXELS,
                   method: str = 'chunked',
                   samples_per_pixel: int = 1
                   ) -> Tuple[Tensor, Tensor, Tensor]:
    """Soft pixel counts of aligned pairs of rotated boxes.

    Args:
        pred, target (Tensor): rotated boxes ``(N, 5)``, ``rbox`` format
            (see the module docstring); widths and heights >= 0.
        k (float): sharpness of the kernel ``K(d, s) = sigmoid(k (s - d))``.
        chunk_pixels (int): (pair, pixel) terms computed at once; bounds the
            memory whatever the box size.
        max_hull_pixels (int, optional): largest pixel window of one pair
            computed pixel by pixel. A larger window (boxes of thousands of
            pixels: a diverged prediction) is sampled every s-th pixel in x
            and y, each sample counting for s**2 pixels, with the smallest
            s that fits: time and memory stay bounded and the gradient
            still shrinks the box. None: every window exact.
        method (str): ``'chunked'`` (bounded memory, analytic backward) or
            ``'dense'`` (all terms at once, autograd; for comparison).
        samples_per_pixel (int): ``s`` samples per pixel side: the kernel
            (still ``k`` per pixel) is sampled on the centres of an
            ``s x s`` sub-grid of every pixel, each sample counting for
            ``1 / s**2`` pixel. 1 (default) is the paper's pixel grid. On
            small boxes the pixel count moves in steps as a box turns; a
            finer grid smooths them (``s**2`` times the work).

    Returns:
        tuple[Tensor]: ``(I, A_pred, A_target)``, each ``(N,)``: the sums of
        ``F F'``, ``F`` and ``F'`` over the pair's pixels.
    """
    _check_pairs(pred, target)
    if not k > 0:
        raise ValueError(f'k must be > 0, got {k}')
    if int(samples_per_pixel) != samples_per_pixel or samples_per_pixel < 1:
        raise ValueError('samples_per_pixel must be an integer >= 1, got '
                         f'{samples_per_pixel}')
    if samples_per_pixel > 1:
        # the sub-grid of pixels of 1/s is the pixel grid of the boxes
        # scaled by s, where the same kernel has the sharpness k/s
        s = int(samples_per_pixel)
        scale = pred.new_tensor([s, s, s, s, 1])
        sums = pixel_overlaps(pred * scale, target * scale, k / s,
                              chunk_pixels, max_hull_pixels, method)
        return tuple(x / (s * s) for x in sums)
    if pred.size(0) == 0:
        zero = (pred[:, 0] + target[:, 0]) * 0
        return zero, zero, zero
    if method == 'chunked':
        # its sums and Jacobians choose their own precision; autocast would
        # run their products (torch.bmm) in bfloat16/float16
        with autocast_off(pred.device):
            return _PixelOverlaps.apply(pred, target, float(k),
                                        int(chunk_pixels), max_hull_pixels)
    if method == 'dense':
        return _pixel_overlaps_dense(pred, target, float(k), max_hull_pixels)
    raise ValueError(f"method must be 'chunked' or 'dense', got {method!r}")


def pixel_iou(pred: Tensor,
              target: Tensor,
              k: float = 10.0,
              union: str = 'soft',
              **kwargs) -> Tensor:
    """PIoU of aligned pairs of rotated boxes, ``I / U`` (module docstring).

    Args:
        pred, target (Tensor): rotated boxes ``(N, 5)``, ``rbox`` format.
        k (float): kernel sharpness (the paper's k = 10).
        union (str): ``'soft'`` (the paper's, the sum of ``F + F' - F F'``)
            or ``'hard'`` (``w h + w' h' - I``, never below ``I``: boxes
            smaller than a pixel can have a sampled intersection larger than
            their exact areas).
        **kwargs: ``chunk_pixels``, ``max_hull_pixels``, ``method``,
            ``samples_per_pixel`` of :func:`pixel_overlaps`.

    Returns:
        Tensor: ``(N,)``, in [0, 1].
    """
    if union not in UNIONS:
        raise ValueError(f'union must be one of {UNIONS}, got {union!r}')
    inter, area1, area2 = pixel_overlaps(pred, target, k, **kwargs)
    if union == 'soft':
        union_area = area1 + area2 - inter
    else:
        # in the sums' dtype: half precision areas overflow above 256 px
        w1, h1, w2, h2 = (
            x.to(inter.dtype)
            for x in (pred[:, 2], pred[:, 3], target[:, 2], target[:, 3]))
        union_area = torch.maximum(w1 * h1 + w2 * h2 - inter, inter)
    tiny = torch.finfo(union_area.dtype).tiny
    return inter / union_area.clamp(min=tiny)


def piou_loss(pred: Tensor,
              target: Tensor,
              k: float = 10.0,
              union: str = 'soft',
              mode: str = 'log',
              eps: float = 1e-6,
              **kwargs) -> Tensor:
    """PIoU loss of aligned pairs of rotated boxes, per pair.

    Args:
        pred, target (Tensor): rotated boxes ``(N, 5)``, ``rbox`` format.
        k (float): kernel sharpness (the paper's k = 10).
        union (str): ``'soft'`` (default) or ``'hard'``, see :func:`pixel_iou`.
        mode (str): ``'log'``: ``-ln PIoU`` (the paper's eq. 10, default);
            ``'linear'``: ``1 - PIoU``; ``'official'``: ``-2 ln PIoU`` with
            PIoU clamped to [0.1, 1] (the authors' training code: no
            gradient below 0.1).
        eps (float): ``'log'`` clamps PIoU below at eps.
        **kwargs: ``chunk_pixels``, ``max_hull_pixels``, ``method``,
            ``samples_per_pixel`` of :func:`pixel_overlaps`.

    Returns:
        Tensor: ``(N,)`` losses (mean them over positives for the paper's
        ``-(1/|M|) sum ln PIoU``).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    value = pixel_iou(pred, target, k, union, **kwargs)
    if mode == 'log':
        return -value.clamp(min=eps).log()
    if mode == 'linear':
        return 1 - value
    return -2 * value.clamp(min=0.1, max=1.0).log()
