"""Rotated box coders: round trips, the delta formulas written out by hand,
and side distances against shapely."""
import math

import numpy as np
import pytest
import shapely
import torch

from mmdet_losses.models.task_modules import (DeltaXYWHTRBBoxCoder,
                                              DistanceAnglePointCoder)
from mmdet_losses.structures import RotatedBoxes, rbox2qbox, regularize_rboxes


def random_rboxes(n, seed):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen, dtype=torch.float64)
    return torch.stack([
        r[:, 0] * 300, r[:, 1] * 300, 5 + r[:, 2] * 80, 5 + r[:, 3] * 80,
        (r[:, 4] - 0.5) * 2 * math.pi
    ], 1)


def anchors_near(boxes, seed):
    """Anchors around the boxes, as an assigner would pair them."""
    gen = torch.Generator().manual_seed(seed)
    jitter = torch.randn(boxes.shape, generator=gen, dtype=torch.float64)
    out = boxes.clone()
    out[:, :2] += jitter[:, :2] * 10
    out[:, 2:4] *= torch.exp(jitter[:, 2:4] * 0.3)
    out[:, 4] += jitter[:, 4]
    return out


OPTIONS = [
    dict(),
    dict(edge_swap=False),
    dict(proj_xy=False),
    dict(norm_factor=0.5, edge_swap=False, proj_xy=False),
    dict(
        target_means=(0.1, -0.1, 0.0, 0.2, 0.05),
        target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)),
]


@pytest.mark.parametrize('version', ['le90', 'le135', 'oc'])
@pytest.mark.parametrize('options', OPTIONS)
def test_delta_round_trip(version, options):
    coder = DeltaXYWHTRBBoxCoder(angle_version=version, **options)
    boxes = random_rboxes(200, 0)
    priors = anchors_near(boxes, 1)
    deltas = coder.encode(priors, boxes)
    decoded = coder.decode(priors, deltas)
    assert isinstance(decoded, RotatedBoxes)
    assert torch.allclose(
        decoded.tensor, regularize_rboxes(boxes, version), atol=1e-6)


def test_delta_formulas_by_hand():
    """No swap, no projection: the R-CNN deltas plus an angle delta."""
    coder = DeltaXYWHTRBBoxCoder(
        angle_version='le90', edge_swap=False, proj_xy=False)
    anchor = torch.tensor([[10., 20., 8., 4., 0.1]], dtype=torch.float64)
    box = torch.tensor([[13., 18., 16., 2., 0.5]], dtype=torch.float64)
    expected = [3 / 8, -2 / 4, math.log(2), math.log(0.5), 0.4]
    assert torch.allclose(
        coder.encode(anchor, box)[0],
        torch.tensor(expected, dtype=torch.float64))
    projected = DeltaXYWHTRBBoxCoder(edge_swap=False, proj_xy=True)
    c, s = math.cos(0.1), math.sin(0.1)
    dx, dy = c * 3 + s * -2, -s * 3 + c * -2
    assert torch.allclose(
        projected.encode(anchor, box)[0, :2],
        torch.tensor([dx / 8, dy / 4], dtype=torch.float64))


def test_edge_swap_turns_at_most_a_quarter_of_a_half_turn():
    coder = DeltaXYWHTRBBoxCoder(angle_version='le90', edge_swap=True)
    boxes = random_rboxes(500, 2)
    priors = anchors_near(boxes, 3)
    deltas = coder.encode(priors, boxes)
    assert (deltas[:, 4].abs() <= math.pi / 4 + 1e-9).all()
    plain = DeltaXYWHTRBBoxCoder(angle_version='le90', edge_swap=False)
    assert plain.encode(priors, boxes)[:, 4].abs().max() > math.pi / 4


def test_angle_deltas_is_the_fifth_delta():
    coder = DeltaXYWHTRBBoxCoder(
        edge_swap=False,
        norm_factor=2.0,
        target_means=(0, 0, 0, 0, 0.1),
        target_stds=(1, 1, 1, 1, 0.5))
    boxes = random_rboxes(50, 4)
    priors = anchors_near(boxes, 5)
    deltas = coder.encode(priors, boxes)
    gts = regularize_rboxes(boxes)
    assert torch.allclose(
        coder.angle_deltas(priors[:, 4], gts[:, 4]), deltas[:, 4])


def test_decode_clamps_growth_and_accepts_batches():
    coder = DeltaXYWHTRBBoxCoder(use_box_type=False)
    priors = torch.tensor([[0., 0., 10., 10., 0.]])
    huge = torch.tensor([[[0., 0., 50., 50., 0.]]])
    out = coder.decode(priors, huge)
    assert out.shape == (1, 1, 5) and torch.isfinite(out).all()
    assert out[0, 0, 2] == pytest.approx(10 * 1000 / 16, rel=1e-5)


def test_delta_coder_rejects_bad_shapes():
    coder = DeltaXYWHTRBBoxCoder()
    boxes = random_rboxes(4, 6)
    with pytest.raises(ValueError, match='pair up'):
        coder.encode(boxes, boxes[:3])
    with pytest.raises(ValueError, match='5 deltas'):
        coder.decode(boxes, boxes[:, :4])
    with pytest.raises(ValueError, match='angle_version'):
        DeltaXYWHTRBBoxCoder(angle_version='le45')


def test_distances_against_shapely():
    coder = DistanceAnglePointCoder(angle_version='le90')
    boxes = regularize_rboxes(random_rboxes(30, 7))
    gen = torch.Generator().manual_seed(8)
    # points inside each box: centre plus a fraction of each half side
    frac = (torch.rand(30, 2, generator=gen, dtype=torch.float64) - 0.5)
    t = boxes[:, 4]
    u, v = frac[:, 0] * boxes[:, 2], frac[:, 1] * boxes[:, 3]
    points = torch.stack([
        boxes[:, 0] + u * torch.cos(t) - v * torch.sin(t),
        boxes[:, 1] + u * torch.sin(t) + v * torch.cos(t)
    ], 1)
    targets = coder.encode(points, boxes)
    for i in range(30):
        corners = rbox2qbox(boxes[i]).reshape(4, 2).numpy()
        point = shapely.Point(points[i].numpy())
        # sides: corners 3-0 (left, u = -w/2), 0-1 (top), 1-2, 2-3
        sides = [(3, 0), (0, 1), (1, 2), (2, 3)]
        expected = [
            shapely.LineString(corners[[a, b]]).distance(point)
            for a, b in sides
        ]
        assert np.allclose(targets[i, :4].numpy(), expected, atol=1e-6)
    assert torch.equal(targets[:, 4], boxes[:, 4])


def test_distance_round_trip_and_broadcasting():
    coder = DistanceAnglePointCoder(angle_version='le90', use_box_type=False)
    boxes = regularize_rboxes(random_rboxes(40, 9))
    points = boxes[:, :2] + torch.randn(40, 2, dtype=torch.float64)
    assert torch.allclose(
        coder.decode(points, coder.encode(points, boxes)), boxes)
    # all pairs: (points, boxes) -> (P, G, 5)
    pairs = coder.encode(points[:, None], boxes[None])
    assert pairs.shape == (40, 40, 5)
    assert torch.allclose(pairs[3, 7], coder.encode(points[3], boxes[7]))
    with pytest.raises(ValueError, match=r'\(l, t, r, b, angle\)'):
        coder.decode(points, boxes[:, :4])
