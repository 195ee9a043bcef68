"""Circular smooth labels (CSL) for angle classification.

Yang and Yan, "Arbitrary-Oriented Object Detection with Circular Smooth
Label", ECCV 2020 (https://arxiv.org/abs/2003.05597). The angle range is cut
into ``num_bins`` bins; the label of an angle in bin ``k`` is a window
``g(d)`` of the *circular* distance ``d`` (in bins) from ``k``, so that the
two ends of the range are neighbours. The paper's gaussian window of
radius ``r`` (in bins) is ``g(d) = exp(-d^2 / (2 r^2))``: 1 at the target
bin, ``exp(-1/2)`` one radius away.

mmrotate 1.x's ``CSLCoder`` ships this window as ``exp(-d^2) / (2 r^2)``,
and with ``omega > 1`` writes several distances into one bin through a
scatter (the last write wins on a CPU: zero). Its DOTA setting (45 bins,
radius 3) gives an all-zero label on a CPU. :func:`circular_smooth_label`
computes the window from every bin's circular distance instead, with no
scatter, so each bin gets exactly one value.
"""
import torch
from torch import Tensor

__all__ = ['circular_bin_distance', 'circular_smooth_label']


def circular_bin_distance(bins: Tensor, num_bins: int) -> Tensor:
    """Signed circular distance from each target bin to every bin.

    Args:
        bins: ``(n,)`` integer bin indices (any integer; taken modulo
            ``num_bins``).
        num_bins: number of bins on the circle.

    Returns:
        ``(n, num_bins)`` integer tensor, entry ``[i, j]`` the distance
        ``j - bins[i]`` wrapped into ``[-num_bins // 2, num_bins - num_bins
        // 2)``.
    """
    if num_bins < 1:
        raise ValueError(f'num_bins must be >= 1, got {num_bins}')
    if bins.dtype.is_floating_point or bins.dtype == torch.bool:
        raise TypeError(f'bins must be an integer tensor, got {bins.dtype}')
    columns = torch.arange(num_bins, device=bins.device)
    half = num_bins // 2
    return (columns - bins.reshape(-1, 1) + half) % num_bins - half


def circular_smooth_label(bins: Tensor,
                          num_bins: int,
                          radius: float,
                          dtype: torch.dtype = torch.float32) -> Tensor:
    """The gaussian circular smooth label of each target bin.

    Args:
        bins: ``(n,)`` integer target bins.
        num_bins: number of angle bins (angle range / bin width).
        radius: the gaussian's standard deviation, in bins (> 0).
        dtype: floating dtype of the result.

    Returns:
        ``(n, num_bins)`` labels ``exp(-d^2 / (2 radius^2))``, ``d`` from
        :func:`circular_bin_distance`; 1 at the target bin.
    """
    if not radius > 0:
        raise ValueError(f'radius must be > 0 (in bins), got {radius}')
    distance = circular_bin_distance(bins, num_bins).to(dtype)
    return torch.exp(-distance.square() / (2.0 * radius * radius))
