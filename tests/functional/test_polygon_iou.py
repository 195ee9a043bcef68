"""Exact IoU of convex quadrilaterals: values against shapely and mmcv,
gradients against finite differences."""
import math

import numpy as np
import pytest
import shapely
import torch

from mmdet_losses.functional.polygon_iou import (quad_intersection_area,
                                                 quad_iou_loss, quad_overlaps)


def corners(rboxes):
    """(n, 8) corners of (cx, cy, w, h, t), written here independently."""
    cx, cy, w, h, t = rboxes.unbind(-1)
    out = []
    for u, v in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        out += [
            cx + u * w * torch.cos(t) - v * h * torch.sin(t),
            cy + u * w * torch.sin(t) + v * h * torch.cos(t)
        ]
    return torch.stack(out, -1)


def random_pairs(n, seed, spread=30.0):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen, dtype=torch.float64)
    a = torch.stack([
        r[:, 0] * 100, r[:, 1] * 100, 2 + r[:, 2] * 60, 2 + r[:, 3] * 60,
        (r[:, 4] - 0.5) * 2 * math.pi
    ], 1)
    b = a.clone()
    jitter = torch.randn(n, 5, generator=gen, dtype=torch.float64)
    b[:, :2] += jitter[:, :2] * spread
    b[:, 2:4] *= torch.exp(jitter[:, 2:4] * 0.4)
    b[:, 4] += jitter[:, 4]
    return a, b


def shapely_iou(qa, qb):
    pa = shapely.Polygon(qa.reshape(4, 2).tolist())
    pb = shapely.Polygon(qb.reshape(4, 2).tolist())
    inter = pa.intersection(pb).area
    return inter, inter / (pa.area + pb.area - inter)


def test_against_shapely():
    a, b = random_pairs(300, 0)
    qa, qb = corners(a), corners(b)
    inter = quad_intersection_area(qa, qb)
    iou = quad_overlaps(qa, qb)
    for i in range(len(a)):
        expected_inter, expected_iou = shapely_iou(qa[i], qb[i])
        assert inter[i].item() == pytest.approx(expected_inter, abs=1e-8)
        assert iou[i].item() == pytest.approx(expected_iou, abs=1e-10)
    assert (iou > 0).any() and (iou == 0).any()


def test_against_mmcv_in_float32():
    from mmcv.ops import box_iou_rotated
    a, b = random_pairs(1000, 1)
    ours = quad_overlaps(corners(a).float(), corners(b).float())
    mmcv = box_iou_rotated(a.float(), b.float(), aligned=True)
    assert (ours - mmcv).abs().max() < 1e-5


def test_special_cases():
    box = torch.tensor([[10., 10., 8., 4., 0.3]], dtype=torch.float64)
    q = corners(box)
    assert quad_overlaps(q, q).item() == pytest.approx(1.0, abs=1e-12)
    # a half turn lists the same corners in another order
    turned = corners(
        box + torch.tensor([[0., 0., 0., 0., math.pi]], dtype=torch.float64))
    assert quad_overlaps(q, turned).item() == pytest.approx(1.0, abs=1e-9)
    # reversed corner order (other orientation)
    reversed_q = q.reshape(1, 4, 2).flip(1).reshape(1, 8)
    assert quad_overlaps(q, reversed_q).item() == pytest.approx(1.0, abs=1e-9)
    # one inside the other: IoU = area ratio
    inner = corners(
        torch.tensor([[10., 10., 4., 2., 0.3]], dtype=torch.float64))
    assert quad_overlaps(q, inner).item() == pytest.approx(0.25, abs=1e-9)
    assert quad_overlaps(
        q, inner, mode='iof').item() == pytest.approx(
            0.25, abs=1e-9)
    assert quad_overlaps(
        inner, q, mode='iof').item() == pytest.approx(
            1.0, abs=1e-9)
    # sharing an edge only, far apart, zero size
    side = corners(torch.tensor([[18., 10., 8., 4., 0.]], dtype=torch.float64))
    axis = corners(torch.tensor([[10., 10., 8., 4., 0.]], dtype=torch.float64))
    assert quad_overlaps(axis, side).item() == pytest.approx(0, abs=1e-12)
    far = corners(torch.tensor([[1e3, 1e3, 8., 4., 0.]], dtype=torch.float64))
    assert quad_overlaps(q, far).item() == 0
    flat = corners(torch.tensor([[10., 10., 0., 4., 0.]], dtype=torch.float64))
    assert quad_overlaps(flat, flat).item() == 0
    assert quad_intersection_area(q[:0], q[:0]).shape == (0, )


def test_gradients_match_finite_differences():
    a, b = random_pairs(6, 2, spread=5.0)
    qa = corners(a).requires_grad_()
    qb = corners(b).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, y: quad_overlaps(x, y), (qa, qb), eps=1e-6, atol=1e-5)


def test_loss_modes_and_their_gradients():
    a, b = random_pairs(50, 3, spread=5.0)
    qa, qb = corners(a), corners(b)
    iou = quad_overlaps(qa, qb).clamp(min=1e-6)
    assert torch.allclose(quad_iou_loss(qa, qb, 'log'), -iou.log())
    assert torch.allclose(quad_iou_loss(qa, qb, 'linear'), 1 - iou)
    assert torch.allclose(quad_iou_loss(qa, qb, 'square'), 1 - iou**2)
    # the loss pulls a box towards its target
    pred = a.clone().requires_grad_()
    loss = quad_iou_loss(corners(pred), qb, 'linear').sum()
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match='mode'):
        quad_iou_loss(qa, qb, 'cubic')
    with pytest.raises(ValueError, match=r'\(n, 8\)'):
        quad_iou_loss(qa[:, :6], qb[:, :6])


def test_gradients_finite_in_degenerate_configurations():
    boxes = torch.tensor(
        [
            [10., 10., 8., 4., 0.0],
            [10., 10., 8., 4., 0.0],  # identical pair
            [10., 10., 8., 4., math.pi / 2],  # a cross
            [10., 10., 0., 4., 0.1],  # zero width
        ],
        dtype=torch.float64)
    pairs = [(0, 1), (0, 2), (0, 3), (3, 3)]
    a = torch.stack([boxes[i] for i, _ in pairs]).requires_grad_()
    b = torch.stack([boxes[j] for _, j in pairs])
    quad_iou_loss(corners(a), corners(b), 'log').sum().backward()
    assert torch.isfinite(a.grad).all()


def test_float32_far_from_the_origin():
    """Corners in the thousands lose digits in float32 cross products unless
    the computation is centred: compare with float64 on the same (float32
    rounded) corners."""
    a, b = random_pairs(100, 4)
    shift = torch.tensor([5000., 5000., 0., 0., 0.], dtype=torch.float64)
    qa, qb = corners(a + shift).float(), corners(b + shift).float()
    exact = quad_overlaps(qa.double(), qb.double())
    assert (quad_overlaps(qa, qb).double() - exact).abs().max() < 1e-5
    half = quad_overlaps(corners(a).half(), corners(b).half())
    assert np.isfinite(half.float().numpy()).all()
