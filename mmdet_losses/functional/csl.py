"""Circular smooth labels (CSL): angle classification with a circular
window over angle bins.

X. Yang and J. Yan, "Arbitrary-Oriented Object Detection with Circular
Smooth Label", ECCV 2020, arXiv:2003.05597.

An angle range ``[start, start + period)`` (radians) is cut into
``num_bins`` bins of width ``period / num_bins``; bin ``i`` holds the angles
``[start + i width, start + (i + 1) width)``. The range is a circle: an angle
outside it is moved by whole periods into it, and the distance between bins
``i`` and ``c`` is the circular one, ``d = min(|i - c|, num_bins - |i - c|)``.
The label of an angle in bin ``c`` gives bin ``i`` the window value at
``d``, with radius ``r`` in bins:

    pulse       1 if d = 0, else 0          (plain one-hot classification)
    rect        1 if d < r, else 0
    triangle    1 - d / r if d < r, else 0
    gaussian    exp(-d**2 / (2 r**2))       (over the whole circle)

Every window is 1 at the angle's own bin, and decoding takes the centre of
the highest-scoring bin: the round trip is exact to half a bin, except for
the rect window, whose plateau of ``2 r - 1`` equal bins decodes to its
first bin (argmax takes the first of equal scores): up to ``r - 1`` bins
off. mmrotate decodes the same way.

Differences from mmrotate 1.x's ``CSLCoder``, which these functions
otherwise follow (same bins, same decoding): there the gaussian is
``exp(-d**2) / (2 r**2)`` (a misplaced parenthesis: its peak is
``1 / (2 r**2)`` and its width one bin whatever r), it spans a fixed 180
(90 for oc) *bins* whatever the bin width, so bins collide and overwrite
each other for ``omega != 1``, and its rect window covers ``[-r, r - 1]``,
one bin more on the left.
"""
import math

import torch
from torch import Tensor

__all__ = [
    'WINDOWS', 'csl_window', 'angle_to_bin', 'bin_to_angle', 'csl_encode',
    'csl_decode'
]

WINDOWS = ('gaussian', 'triangle', 'rect', 'pulse')


def csl_window(distance: Tensor, window: str, radius: float) -> Tensor:
    """The window's value at circular bin distances ``distance`` (>= 0).

    Args:
        distance (Tensor): bin distances, any shape.
        window (str): ``'gaussian'``, ``'triangle'``, ``'rect'`` or
            ``'pulse'``.
        radius (float): in bins; the gaussian's standard deviation, the
            support ``d < radius`` of rect and triangle; unused by pulse.

    Returns:
        Tensor: float values of ``distance``'s shape, 1 at distance 0.
    """
    if window not in WINDOWS:
        raise ValueError(f'window must be one of {WINDOWS}, got {window!r}')
    if window != 'pulse' and not radius > 0:
        raise ValueError(f'the {window} window needs a radius > 0, got '
                         f'{radius}')
    d = distance.float() if not distance.is_floating_point() else distance
    if window == 'pulse':
        return (d == 0).to(d.dtype)
    if window == 'rect':
        return (d < radius).to(d.dtype)
    if window == 'triangle':
        return (1 - d / radius).clamp(min=0)
    return torch.exp(-d * d / (2 * radius * radius))


def _check_angles(angles: Tensor) -> None:
    bad = ~torch.isfinite(angles)
    if bad.any():
        i = int(bad.reshape(-1).nonzero()[0])
        raise ValueError(f'angle {i} is not finite: '
                         f'{angles.reshape(-1)[i].item()}')


def angle_to_bin(angles: Tensor,
                 num_bins: int,
                 start: float = -math.pi / 2,
                 period: float = math.pi) -> Tensor:
    """The bin (int64, ``[0, num_bins)``) holding each angle (radians), the
    range taken as a circle."""
    _check_angles(angles)
    scaled = (angles.double() - start) / period * num_bins
    return torch.remainder(torch.floor(scaled).long(), num_bins)


def bin_to_angle(bins: Tensor,
                 num_bins: int,
                 start: float = -math.pi / 2,
                 period: float = math.pi) -> Tensor:
    """The centre angle (radians, float32) of each bin."""
    return ((bins.double() + 0.5) * (period / num_bins) + start).float()


def csl_encode(angles: Tensor,
               num_bins: int,
               start: float = -math.pi / 2,
               period: float = math.pi,
               window: str = 'gaussian',
               radius: float = 6) -> Tensor:
    """Circular smooth labels of angles.

    Args:
        angles (Tensor): ``(N,)`` angles in radians.
        num_bins (int): bins over the range.
        start, period (float): the range ``[start, start + period)``;
            ``-pi/2, pi`` for le90, ``-pi/4, pi`` for le135.
        window, radius: see :func:`csl_window`; radius in bins.

    Returns:
        Tensor: ``(N, num_bins)`` float32 labels.
    """
    if num_bins < 1:
        raise ValueError(f'num_bins must be >= 1, got {num_bins}')
    centre = angle_to_bin(angles.reshape(-1), num_bins, start, period)
    bins = torch.arange(num_bins, device=angles.device)
    gap = (bins[None, :] - centre[:, None]).abs()
    distance = torch.minimum(gap, num_bins - gap)
    return csl_window(distance.float(), window, radius)


def csl_decode(scores: Tensor,
               start: float = -math.pi / 2,
               period: float = math.pi) -> Tensor:
    """Angles (radians) of the highest-scoring bins: ``(..., num_bins)``
    scores (logits or probabilities) to ``(...)`` bin-centre angles."""
    angles = bin_to_angle(
        scores.argmax(dim=-1), scores.size(-1), start, period)
    return angles.to(torch.promote_types(scores.dtype, torch.float32))
