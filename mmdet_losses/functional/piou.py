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
  hull (the official kernel stops at row 1000).
* Memory does not grow with box size. All (pair, pixel) terms are numbered
  in one flat sequence and processed ``chunk_pixels`` at a time, so the
  temporaries of one chunk are the only per-pixel memory. The backward
  recomputes each chunk instead of storing it, with the analytic derivatives
  below (a custom autograd Function), so training memory is bounded too.
* Sums are accumulated in float64; per-pixel terms use the input dtype
  (float32 for half precision inputs).

The derivatives used by the backward, with ``a = k (w/2 - |u|)``,
``b = k (h/2 - |v|)``, ``F = sigmoid(a) sigmoid(b)`` and an upstream
gradient ``g`` on F:

    dF/dw = k/2 F (1 - Ku),   dF/du = -k F (1 - Ku) sign(u),  (v, h alike)
    du/dcx = -cos, du/dcy = -sin, du/da = v,
    dv/dcx = sin,  dv/dcy = -cos, dv/da = -u.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['pixel_hull', 'pixel_overlaps', 'piou', 'piou_loss']

#: default number of (pair, pixel) terms computed at once: about 40 MB of
#: float32 temporaries in the backward.
CHUNK_PIXELS = 1 << 18
#: default largest hull of one pair, in pixels (a 4096 x 4096 hull):
#: larger hulls are an error, not hours of work on a diverged prediction.
MAX_HULL_PIXELS = 1 << 24

_UNIONS = ('soft', 'hard')
_MODES = ('log', 'linear', 'official')


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


def pixel_hull(pred: Tensor, target: Tensor) -> Tuple[Tensor, ...]:
    """The pixel window of each pair: the unit pixels that meet the
    smallest axis-aligned box covering both rotated boxes.

    Args:
        pred, target (Tensor): rotated boxes ``(N, 5)``, ``rbox`` format.

    Returns:
        tuple[Tensor]: ``x0, y0, nx, ny`` (int64, shape ``(N,)``): the pixels
        ``i in [x0, x0 + nx)``, ``j in [y0, y0 + ny)``, centres
        ``(i + 0.5, j + 0.5)``. ``nx, ny >= 1``.
    """
    boxes = torch.stack((pred.detach(), target.detach())).double()
    cx, cy, w, h, angle = boxes.unbind(-1)
    cos, sin = angle.cos().abs(), angle.sin().abs()
    half_x = 0.5 * (w * cos + h * sin)
    half_y = 0.5 * (w * sin + h * cos)
    x0 = (cx - half_x).amin(0).floor()
    y0 = (cy - half_y).amin(0).floor()
    nx = ((cx + half_x).amax(0).ceil() - x0).clamp(min=1)
    ny = ((cy + half_y).amax(0).ceil() - y0).clamp(min=1)
    return x0.long(), y0.long(), nx.long(), ny.long()


def _box_table(boxes: Tensor, x0: Tensor, y0: Tensor,
               dtype: torch.dtype) -> Tensor:
    """Per-box constants of the membership: ``(6, N)`` rows ``cos, sin,
    u0, v0, w/2, h/2``; ``(u0, v0)`` are the box-axis coordinates of the
    first pixel centre ``(x0 + 0.5, y0 + 0.5)``, computed in float64 so that
    ``u = u0 + i cos + j sin`` loses nothing to large image coordinates."""
    b = boxes.double()
    cos, sin = b[:, 4].cos(), b[:, 4].sin()
    dx = x0.double() + 0.5 - b[:, 0]
    dy = y0.double() + 0.5 - b[:, 1]
    u0 = dx * cos + dy * sin
    v0 = dy * cos - dx * sin
    return torch.stack((cos, sin, u0, v0, 0.5 * b[:, 2], 0.5 * b[:, 3]),
                       dim=0).to(dtype)


def _membership(table: Tensor, col: Tensor, row: Tensor,
                k: float) -> Tuple[Tensor, ...]:
    """Soft membership of pixels ``(col, row)`` (offsets from the pair's
    first pixel) in the boxes of ``table`` (gathered per pixel).

    Returns ``F, Ku, Kv, u, v``."""
    cos, sin, u0, v0, half_w, half_h = table
    u = u0 + col * cos + row * sin
    v = v0 - col * sin + row * cos
    ku = torch.sigmoid(k * (half_w - u.abs()))
    kv = torch.sigmoid(k * (half_h - v.abs()))
    return ku * kv, ku, kv, u, v


class _Plan:
    """The flat numbering of all (pair, pixel) terms, cut into chunks."""

    def __init__(self, pred: Tensor, target: Tensor,
                 chunk_pixels: Optional[int], max_hull_pixels: Optional[int]):
        if chunk_pixels is not None and chunk_pixels < 1:
            raise ValueError(f'chunk_pixels must be >= 1, got {chunk_pixels}')
        x0, y0, nx, ny = pixel_hull(pred, target)
        counts = nx * ny
        if max_hull_pixels is not None and counts.numel():
            worst = int(counts.argmax())
            if int(counts[worst]) > max_hull_pixels:
                raise ValueError(
                    f'pair {worst} needs a hull of {int(nx[worst])} x '
                    f'{int(ny[worst])} pixels, more than max_hull_pixels='
                    f'{max_hull_pixels}: pred {pred[worst].tolist()}, '
                    f'target {target[worst].tolist()} (cx, cy, w, h, angle).'
                    f' Raise max_hull_pixels (or pass None) if boxes this '
                    f'large are expected.')
        self.x0, self.y0, self.nx = x0, y0, nx
        self.ends = counts.cumsum(0)
        self.starts = self.ends - counts
        self.total = int(self.ends[-1]) if counts.numel() else 0
        # None: one chunk holding every term
        self.chunk = max(int(chunk_pixels or self.total), 1)
        # pairs each chunk touches, found once (one host sync in all)
        bounds = torch.arange(
            0, self.total, self.chunk, device=counts.device)
        first = torch.searchsorted(self.ends, bounds, right=True)
        last = torch.searchsorted(
            self.ends, (bounds + self.chunk).clamp(max=self.total) - 1,
            right=True)
        self.chunks = list(zip(bounds.tolist(), first.tolist(), last.tolist()))

    def __iter__(self):
        """Yield ``(p0, p1, pair, col, row)``: the chunk's pairs
        ``[p0, p1)``, and for each term its pair (relative to p0) and its
        pixel offsets in the pair's window (float64)."""
        for start, p0, last in self.chunks:
            p1 = last + 1
            end = min(start + self.chunk, self.total)
            lo = self.starts[p0:p1].clamp(min=start)
            hi = self.ends[p0:p1].clamp(max=end)
            pair = torch.repeat_interleave(
                torch.arange(p1 - p0, device=lo.device), hi - lo)
            local = torch.arange(start, end, device=lo.device, dtype=torch.float64)
            local -= self.starts[p0:p1].double()[pair]
            nx = self.nx[p0:p1].double()[pair]
            # exact in float64: local < 2**53 and (local + 0.5) / nx stays
            # at least 0.5 / nx away from an integer
            row = torch.floor((local + 0.5) / nx)
            col = local - row * nx
            yield p0, p1, pair, col, row


def _segment_sum(values: Tensor, pair: Tensor, n: int) -> Tensor:
    """Sum the rows of ``values`` (terms x C) per pair, in float64."""
    out = values.new_zeros((n, values.size(1)), dtype=torch.float64)
    return out.index_add_(0, pair, values.double())


class _PixelOverlaps(torch.autograd.Function):
    """``(I, A, A')``: intersection and soft areas summed over the pixels,
    chunked, with the analytic backward of the module docstring."""

    @staticmethod
    def forward(ctx, pred: Tensor, target: Tensor, k: float, chunk: int,
                max_hull: Optional[int]) -> Tuple[Tensor, Tensor, Tensor]:
        dtype = pred.dtype if pred.dtype == torch.float64 else torch.float32
        plan = _Plan(pred, target, chunk, max_hull)
        tables = [
            _box_table(b, plan.x0, plan.y0, dtype) for b in (pred, target)
        ]
        sums = pred.new_zeros((pred.size(0), 3), dtype=torch.float64)
        for p0, p1, pair, col, row in plan:
            col, row = col.to(dtype), row.to(dtype)
            f1 = _membership(tables[0][:, p0:p1][:, pair], col, row, k)[0]
            f2 = _membership(tables[1][:, p0:p1][:, pair], col, row, k)[0]
            terms = torch.stack((f1 * f2, f1, f2), dim=1)
            sums[p0:p1] += _segment_sum(terms, pair, p1 - p0)
        ctx.save_for_backward(pred, target)
        ctx.k, ctx.chunk, ctx.max_hull = k, chunk, max_hull
        out = sums.to(dtype)
        return out[:, 0], out[:, 1], out[:, 2]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_inter: Tensor, g_area1: Tensor, g_area2: Tensor):
        pred, target = ctx.saved_tensors
        need = ctx.needs_input_grad[:2]
        grads = [None, None]
        if not any(need) or pred.size(0) == 0:
            return None, None, None, None, None
        k = ctx.k
        dtype = pred.dtype if pred.dtype == torch.float64 else torch.float32
        plan = _Plan(pred, target, ctx.chunk, ctx.max_hull)
        tables = [
            _box_table(b, plan.x0, plan.y0, dtype) for b in (pred, target)
        ]
        upstream = torch.stack((g_inter, g_area1, g_area2)).to(dtype)
        # per box: sums of dL/d(w/2), dL/d(h/2), dL/du, dL/dv, dL/dangle
        sums = [
            pred.new_zeros((pred.size(0), 5), dtype=torch.float64)
            for _ in range(2)
        ]
        for p0, p1, pair, col, row in plan:
            col, row = col.to(dtype), row.to(dtype)
            g_i, g_a1, g_a2 = upstream[:, p0:p1][:, pair]
            mem = [
                _membership(t[:, p0:p1][:, pair], col, row, k) for t in tables
            ]
            f1, f2 = mem[0][0], mem[1][0]
            g_f = (g_a1 + g_i * f2, g_a2 + g_i * f1)
            for b in range(2):
                if not need[b]:
                    continue
                f, ku, kv, u, v = mem[b]
                q = g_f[b] * f * k
                p_u = q * (1 - ku)
                p_v = q * (1 - kv)
                g_u = -p_u * u.sign()
                g_v = -p_v * v.sign()
                terms = torch.stack((p_u, p_v, g_u, g_v, g_u * v - g_v * u),
                                    dim=1)
                sums[b][p0:p1] += _segment_sum(terms, pair, p1 - p0)
        for b, boxes in enumerate((pred, target)):
            if not need[b]:
                continue
            s_w, s_h, s_u, s_v, s_a = sums[b].unbind(1)
            angle = boxes[:, 4].double()
            cos, sin = angle.cos(), angle.sin()
            grads[b] = torch.stack(
                (-cos * s_u + sin * s_v, -sin * s_u - cos * s_v, 0.5 * s_w,
                 0.5 * s_h, s_a),
                dim=1).to(boxes.dtype)
        return grads[0], grads[1], None, None, None


def _pixel_overlaps_dense(pred: Tensor, target: Tensor, k: float,
                          max_hull: Optional[int]) -> Tuple[Tensor, ...]:
    """The same sums with every (pair, pixel) term in memory at once and
    plain autograd: memory grows with the pixel count. For comparison."""
    dtype = pred.dtype if pred.dtype == torch.float64 else torch.float32
    plan = _Plan(pred, target, None, max_hull)
    tables = [_box_table(b, plan.x0, plan.y0, dtype) for b in (pred, target)]
    sums = pred.new_zeros((pred.size(0), 3), dtype=dtype)
    for p0, p1, pair, col, row in plan:
        col, row = col.to(dtype), row.to(dtype)
        f1 = _membership(tables[0][:, p0:p1][:, pair], col, row, k)[0]
        f2 = _membership(tables[1][:, p0:p1][:, pair], col, row, k)[0]
        terms = torch.stack((f1 * f2, f1, f2), dim=1)
        sums = sums.index_add(0, pair + p0, terms)
    return sums[:, 0], sums[:, 1], sums[:, 2]


def pixel_overlaps(pred: Tensor,
                   target: Tensor,
                   k: float = 10.0,
                   chunk_pixels: int = CHUNK_PIXELS,
                   max_hull_pixels: Optional[int] = MAX_HULL_PIXELS,
                   method: str = 'chunked') -> Tuple[Tensor, Tensor, Tensor]:
    """Soft pixel counts of aligned pairs of rotated boxes.

    Args:
        pred, target (Tensor): rotated boxes ``(N, 5)``, ``rbox`` format
            (see the module docstring); widths and heights >= 0.
        k (float): sharpness of the kernel ``K(d, s) = sigmoid(k (s - d))``.
        chunk_pixels (int): (pair, pixel) terms computed at once; bounds the
            memory whatever the box size.
        max_hull_pixels (int, optional): largest pixel window of one pair;
            a larger one raises a ValueError naming the pair. None: no limit.
        method (str): ``'chunked'`` (bounded memory, analytic backward) or
            ``'dense'`` (all terms at once, autograd; for comparison).

    Returns:
        tuple[Tensor]: ``(I, A_pred, A_target)``, each ``(N,)``: the sums of
        ``F F'``, ``F`` and ``F'`` over the pair's pixels.
    """
    _check_pairs(pred, target)
    if not k > 0:
        raise ValueError(f'k must be > 0, got {k}')
    if pred.size(0) == 0:
        zero = (pred[:, 0] + target[:, 0]) * 0
        return zero, zero, zero
    if method == 'chunked':
        return _PixelOverlaps.apply(pred, target, float(k), int(chunk_pixels),
                                    max_hull_pixels)
    if method == 'dense':
        return _pixel_overlaps_dense(pred, target, float(k), max_hull_pixels)
    raise ValueError(f"method must be 'chunked' or 'dense', got {method!r}")


def piou(pred: Tensor,
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
        **kwargs: ``chunk_pixels``, ``max_hull_pixels``, ``method`` of
            :func:`pixel_overlaps`.

    Returns:
        Tensor: ``(N,)``, in [0, 1].
    """
    if union not in _UNIONS:
        raise ValueError(f'union must be one of {_UNIONS}, got {union!r}')
    inter, area1, area2 = pixel_overlaps(pred, target, k, **kwargs)
    if union == 'soft':
        union_area = area1 + area2 - inter
    else:
        exact = pred[:, 2] * pred[:, 3] + target[:, 2] * target[:, 3]
        union_area = torch.maximum(exact - inter, inter)
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
        union (str): ``'soft'`` (default) or ``'hard'``, see :func:`piou`.
        mode (str): ``'log'``: ``-ln PIoU`` (the paper's eq. 10, default);
            ``'linear'``: ``1 - PIoU``; ``'official'``: ``-2 ln PIoU`` with
            PIoU clamped to [0.1, 1] (the authors' training code: no
            gradient below 0.1).
        eps (float): ``'log'`` clamps PIoU below at eps.
        **kwargs: ``chunk_pixels``, ``max_hull_pixels``, ``method`` of
            :func:`pixel_overlaps`.

    Returns:
        Tensor: ``(N,)`` losses (mean them over positives for the paper's
        ``-(1/|M|) sum ln PIoU``).
    """
    if mode not in _MODES:
        raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
    value = piou(pred, target, k, union, **kwargs)
    if mode == 'log':
        return -value.clamp(min=eps).log()
    if mode == 'linear':
        return 1 - value
    return -2 * value.clamp(min=0.1, max=1.0).log()

