"""Which pixels the PIoU of each pair of rotated boxes counts, and how
they are cut into blocks of bounded size (:mod:`.piou` computes them).

Boxes are ``rbox`` ``(cx, cy, w, h, t)``, as in :mod:`.piou`.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .rbox import rbox_half_extents

__all__ = ['pixel_hull', 'PixelPlan', 'padding_mask']


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
    cx, cy = boxes[..., 0], boxes[..., 1]
    half_x, half_y = rbox_half_extents(boxes)
    x0 = (cx - half_x).amin(0).floor()
    y0 = (cy - half_y).amin(0).floor()
    nx = ((cx + half_x).amax(0).ceil() - x0).clamp(min=1)
    ny = ((cy + half_y).amax(0).ceil() - y0).clamp(min=1)
    return x0.long(), y0.long(), nx.long(), ny.long()


def _row_width(nx: Tensor) -> Tensor:
    """Row length of the blocks a pair's pixels go to: nx rounded up to a
    multiple of 2**(floor(log2 nx) - 2), i.e. 4 widths per octave, so rows
    of similar pairs share a block with under 25% padding."""
    exponent = torch.floor(torch.log2(nx.double())).long()
    step = torch.pow(2, (exponent - 2).clamp(min=0))
    return (nx + step - 1) // step * step


def _sampling_stride(nx: Tensor, ny: Tensor, max_pixels: int) -> Tensor:
    """The smallest stride ``s >= 1`` per pair with
    ``ceil(nx / s) ceil(ny / s) <= max_pixels``."""
    stride = torch.sqrt(
        (nx * ny).double() / max_pixels).ceil().long().clamp(min=1)
    while True:
        over = ((nx + stride - 1) // stride) * (
            (ny + stride - 1) // stride) > max_pixels
        if not bool(over.any()):
            return stride
        stride = stride + over.long()


class PixelPlan:
    """Blocks of pixel rows, about ``chunk_pixels`` pixels each.

    A pair's window is ``ny`` rows of ``nx`` pixels (sampled every
    ``stride`` pixels where it exceeds ``max_hull_pixels``; then ``nx, ny``
    count samples). Pairs are grouped by row width (:func:`_row_width`); a
    block holds whole rows of one group, padded to the group's width, so
    that the per-pixel work is plain broadcasting between per-row and
    per-column vectors. Rows wider than ``chunk_pixels`` are cut into
    pieces.
    """

    def __init__(self, pred: Tensor, target: Tensor,
                 chunk_pixels: Optional[int], max_hull_pixels: Optional[int]):
        if chunk_pixels is not None and chunk_pixels < 1:
            raise ValueError(f'chunk_pixels must be >= 1, got {chunk_pixels}')
        x0, y0, nx, ny = pixel_hull(pred, target)
        self.stride = torch.ones_like(nx)
        if max_hull_pixels is not None:
            if max_hull_pixels < 1:
                raise ValueError(f'max_hull_pixels must be >= 1, got '
                                 f'{max_hull_pixels}')
            self.stride = _sampling_stride(nx, ny, max_hull_pixels)
            nx = (nx + self.stride - 1) // self.stride
            ny = (ny + self.stride - 1) // self.stride
        self.x0, self.y0, self.nx = x0, y0, nx
        self.chunk = chunk_pixels
        width = _row_width(nx)
        if chunk_pixels is not None:
            width = width.clamp(max=chunk_pixels)
        self.pieces = (nx + width - 1) // width  # per row
        self.groups = []
        for w in torch.unique(width).tolist():
            pairs = (width == w).nonzero()[:, 0]
            num_rows = ny[pairs] * self.pieces[pairs]
            ends = num_rows.cumsum(0)
            self.groups.append((w, pairs, ends - num_rows, ends))

    def __iter__(self):
        """Yield ``(pair, row, col0, valid, width)`` per block: for each of
        its R row pieces the pair, the row and first-column offsets (float64,
        ``(R,)``), the number of real pixels, and the block's width."""
        for width, pairs, starts, ends in self.groups:
            total = int(ends[-1])
            step = total if self.chunk is None else max(1, self.chunk // width)
            bounds = torch.arange(0, total, step, device=ends.device)
            first = torch.searchsorted(ends, bounds, right=True).tolist()
            last = torch.searchsorted(
                ends, (bounds + step).clamp(max=total) - 1,
                right=True).tolist()
            for start, p0, p1 in zip(bounds.tolist(), first, last):
                p1 += 1
                end = min(start + step, total)
                lo = starts[p0:p1].clamp(min=start)
                hi = ends[p0:p1].clamp(max=end)
                which = torch.repeat_interleave(
                    torch.arange(p1 - p0, device=lo.device), hi - lo)
                pair = pairs[p0:p1][which]
                local = torch.arange(start, end, device=lo.device)
                local -= starts[p0:p1][which]
                pieces = self.pieces[pair]
                row = torch.div(local, pieces, rounding_mode='floor')
                col0 = (local - row * pieces) * width
                valid = (self.nx[pair] - col0).clamp(max=width)
                yield pair, row.double(), col0.double(), valid, width


def padding_mask(valid: Tensor, col: Tensor) -> Optional[Tensor]:
    """``(R, W)`` 1 on the real pixels of each row, 0 on the padding; None
    when no row is padded."""
    if not bool((valid < col.numel()).any()):
        return None
    return (col < valid[:, None].to(col.dtype)).to(col.dtype)
