"""Circular smooth labels (mmdet_losses.functional.csl) against a closed
form written out bin by bin."""
import math

import pytest
import torch

from mmdet_losses.functional.csl import (WINDOWS, angle_to_bin, bin_to_angle,
                                         csl_decode, csl_encode, csl_window)


def closed_form(angle, num_bins, start, period, window, radius):
    """The label of one angle, one bin at a time, in plain Python."""
    width = period / num_bins
    centre = math.floor((angle - start) / width) % num_bins
    label = []
    for i in range(num_bins):
        d = min(abs(i - centre), num_bins - abs(i - centre))
        if window == 'pulse':
            value = 1.0 if d == 0 else 0.0
        elif window == 'rect':
            value = 1.0 if d < radius else 0.0
        elif window == 'triangle':
            value = max(0.0, 1 - d / radius)
        else:
            value = math.exp(-d * d / (2 * radius * radius))
        label.append(value)
    return label


RANGES = [(-math.pi / 2, math.pi), (-math.pi / 4, math.pi),
          (-math.pi / 2, math.pi / 2)]


@pytest.mark.parametrize('window', WINDOWS)
@pytest.mark.parametrize('num_bins,radius', [(180, 6), (45, 3), (36, 2.5)])
@pytest.mark.parametrize('start,period', RANGES, ids=['le90', 'le135', 'oc'])
def test_encode_equals_closed_form(window, num_bins, radius, start, period):
    g = torch.Generator().manual_seed(num_bins)
    # inside the range, on its ends, and outside it (taken circularly)
    angles = torch.cat(
        (torch.rand(40, generator=g, dtype=torch.float64) * period + start,
         torch.tensor([
             start, start + period - 1e-9, start - 1e-9, start + 2.5 * period,
             start - 1.3 * period
         ],
                      dtype=torch.float64)))
    labels = csl_encode(angles, num_bins, start, period, window, radius)
    assert labels.shape == (len(angles), num_bins)
    expected = torch.tensor([
        closed_form(a, num_bins, start, period, window, radius)
        for a in angles.tolist()
    ])
    torch.testing.assert_close(labels, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('window', WINDOWS)
@pytest.mark.parametrize('start,period', RANGES, ids=['le90', 'le135', 'oc'])
def test_round_trip_within_half_a_bin(window, start, period):
    num_bins = 45
    angles = torch.linspace(start, start + period, 1001)[:-1]
    decoded = csl_decode(
        csl_encode(angles, num_bins, start, period, window, 3), start, period)
    # circular error: the range's two ends are neighbours
    error = torch.remainder(decoded - angles + period / 2, period) - \
        period / 2
    bins = 0.5 if window != 'rect' else 3 - 0.5  # a rect's plateau: its
    # first bin wins the argmax
    assert error.abs().max() <= period / num_bins * bins + 1e-6
    assert decoded.min() >= start and decoded.max() < start + period


def test_labels_wrap_around_the_range_end():
    """An angle just below the range's end is next to one just above its
    start: their labels overlap across the wrap, symmetric around it."""
    num_bins = 180
    below = csl_encode(
        torch.tensor([math.pi / 2 - 1e-4]),
        num_bins,
        window='gaussian',
        radius=6)[0]
    above = csl_encode(
        torch.tensor([-math.pi / 2 + 1e-4]),
        num_bins,
        window='gaussian',
        radius=6)[0]
    assert below.argmax() == num_bins - 1 and above.argmax() == 0
    torch.testing.assert_close(below, above.roll(-1))
    # symmetric about bin 179: bins 0..4 mirror bins 178..174
    torch.testing.assert_close(below[:5], below[174:179].flip(0))
    # a full turn of the range changes nothing
    torch.testing.assert_close(
        csl_encode(torch.tensor([0.3 + math.pi]), num_bins),
        csl_encode(torch.tensor([0.3]), num_bins))


def test_window_values():
    d = torch.arange(0, 8.)
    torch.testing.assert_close(
        csl_window(d, 'triangle', 4),
        torch.tensor([1, .75, .5, .25, 0, 0, 0, 0]))
    torch.testing.assert_close(
        csl_window(d, 'rect', 3), torch.tensor([1., 1, 1, 0, 0, 0, 0, 0]))
    torch.testing.assert_close(
        csl_window(d, 'pulse', 3), torch.tensor([1., 0, 0, 0, 0, 0, 0, 0]))
    torch.testing.assert_close(
        csl_window(d, 'gaussian', 2), torch.exp(-d**2 / 8))


def test_bins_and_centres():
    start, period, n = -math.pi / 2, math.pi, 180
    edges = torch.tensor([
        -math.pi / 2, -math.pi / 2 + math.pi / 180 * 0.999,
        -math.pi / 2 + math.pi / 180 * 1.001, math.pi / 2
    ],
                         dtype=torch.float64)
    assert angle_to_bin(edges, n, start, period).tolist() == [0, 0, 1, 0]
    centres = bin_to_angle(torch.tensor([0, 179]), n, start, period)
    torch.testing.assert_close(
        centres,
        torch.tensor(
            [-math.pi / 2 + math.pi / 360, math.pi / 2 - math.pi / 360]))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='window must be one of'):
        csl_encode(torch.zeros(2), 180, window='cosine')
    with pytest.raises(ValueError, match='radius > 0'):
        csl_encode(torch.zeros(2), 180, window='gaussian', radius=0)
    with pytest.raises(ValueError, match='angle 1 is not finite'):
        csl_encode(torch.tensor([0., float('nan')]), 180)
    with pytest.raises(ValueError, match='num_bins'):
        csl_encode(torch.zeros(2), 0)
