"""Circular smooth labels (mmdet_losses.functional.csl) against the paper's
gaussian window written out in float64 Python: the circular distance as the
smallest |j - b + k n| over whole turns k, the label exp(-d^2 / (2 r^2))."""
import math

import pytest
import torch

from mmdet_losses.functional.csl import (circular_bin_distance,
                                         circular_smooth_label)


def reference_distance(b: int, j: int, n: int) -> int:
    return min((j - b + k * n for k in (-2, -1, 0, 1, 2)), key=abs)


@pytest.mark.parametrize('num_bins', [1, 2, 7, 45, 180])
def test_distance_is_the_shortest_way_round(num_bins):
    bins = torch.arange(-num_bins, 2 * num_bins)
    got = circular_bin_distance(bins, num_bins)
    assert got.shape == (len(bins), num_bins)
    for i, b in enumerate(bins.tolist()):
        for j in range(num_bins):
            want = reference_distance(b, j, num_bins)
            assert abs(got[i, j].item()) == abs(want), (b, j)
            # a tie (half a turn) takes the negative side
            assert -num_bins // 2 <= got[i, j].item() < num_bins - \
                num_bins // 2


@pytest.mark.parametrize('num_bins,radius', [(45, 3), (180, 6), (90, 1.5),
                                             (8, 0.4)])
def test_label_is_the_gaussian_of_the_circular_distance(num_bins, radius):
    bins = torch.tensor([0, 1, num_bins // 2, num_bins - 1, num_bins + 3])
    label = circular_smooth_label(bins, num_bins, radius, dtype=torch.float64)
    for i, b in enumerate(bins.tolist()):
        for j in range(num_bins):
            d = reference_distance(b, j, num_bins)
            want = math.exp(-d * d / (2 * radius * radius))
            assert label[i, j].item() == pytest.approx(want, rel=1e-12), (b, j)
    # 1 at the target, exp(-1/2) one radius away (integer radii)
    assert label[:, 0].tolist()[0] == 1.0
    if float(radius).is_integer():
        assert label[0, int(radius)].item() == pytest.approx(math.exp(-0.5))
        assert label[0, -int(radius)].item() == pytest.approx(math.exp(-0.5))


def test_label_wraps_and_keeps_the_dtype():
    label = circular_smooth_label(torch.tensor([-1, 44]), 45, 3.0)
    assert label.dtype == torch.float32
    torch.testing.assert_close(label[0], label[1])
    assert label[0].argmax().item() == 44
    # the ends of the range are neighbours
    assert label[0, 0].item() == pytest.approx(math.exp(-1 / 18))


def test_empty_targets_give_an_empty_label():
    label = circular_smooth_label(torch.zeros(0, dtype=torch.long), 45, 3)
    assert label.shape == (0, 45)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='radius'):
        circular_smooth_label(torch.tensor([1]), 45, 0)
    with pytest.raises(ValueError, match='num_bins'):
        circular_bin_distance(torch.tensor([1]), 0)
    with pytest.raises(TypeError, match='integer'):
        circular_bin_distance(torch.tensor([1.5]), 45)
