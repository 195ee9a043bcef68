"""PolygonIoULoss: mmdet's loss-module API around the exact polygon IoU."""
import math

import pytest
import torch
from mmcv.ops import box_iou_rotated
from mmrotate.structures.bbox import RotatedBoxes

import mmdet_losses
from mmdet_losses.registry import MODELS

mmdet_losses.register_all_modules(init_default_scope=False)


def pairs(n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    r = torch.rand(n, 5, generator=gen)
    target = torch.stack([
        r[:, 0] * 200, r[:, 1] * 200, 5 + r[:, 2] * 50, 5 + r[:, 3] * 50,
        (r[:, 4] - 0.5) * math.pi
    ], 1)
    pred = target + torch.randn(
        n, 5, generator=gen) * torch.tensor([3., 3., 2., 2., 0.2])
    pred[:, 2:4] = pred[:, 2:4].abs() + 1
    return pred, target


@pytest.mark.parametrize('mode', ['log', 'linear', 'square'])
def test_value_matches_mmcv_iou(mode):
    loss = MODELS.build(
        dict(type='PolygonIoULoss', mode=mode, reduction='none'))
    pred, target = pairs()
    iou = box_iou_rotated(pred, target, aligned=True).clamp(min=1e-6)
    expected = {
        'log': -iou.log(),
        'linear': 1 - iou,
        'square': 1 - iou**2
    }[mode]
    assert torch.allclose(loss(pred, target), expected, atol=1e-4)


def test_mmrotate_linear_switch_and_reductions():
    pred, target = pairs()
    linear = MODELS.build(dict(type='PolygonIoULoss', linear=True))
    iou = box_iou_rotated(pred, target, aligned=True)
    assert linear(pred, target).item() == pytest.approx(
        (1 - iou).mean().item(), abs=1e-5)
    weighted = MODELS.build(dict(type='PolygonIoULoss', loss_weight=2.0))
    weight = torch.rand(len(pred))
    per_box = MODELS.build(dict(type='PolygonIoULoss', reduction='none'))
    expected = 2 * (per_box(pred, target) * weight).sum() / 7
    assert weighted(pred, target, weight, avg_factor=7).item() == \
        pytest.approx(expected.item(), rel=1e-5)
    assert weighted(pred, target, reduction_override='sum').item() == \
        pytest.approx(2 * per_box(pred, target).sum().item(), rel=1e-5)
    with pytest.raises(AssertionError):
        weighted(pred, target, reduction_override='max')


def test_rows_with_zero_weight_are_not_computed():
    pred, target = pairs(6)
    garbage = target.clone()
    garbage[3] = torch.tensor([0., 0., 0., 0., 0.])  # a negative's target
    weight = torch.ones(6, 5)
    weight[3] = 0
    loss = MODELS.build(dict(type='PolygonIoULoss', reduction='none'))
    out = loss(pred.requires_grad_(), garbage, weight)
    assert out[3] == 0 and torch.isfinite(out).all()
    all_zero = loss(pred, garbage, torch.zeros(6), reduction_override='mean')
    all_zero.backward()
    assert all_zero.item() == 0 and pred.grad is not None


def test_box_types_and_gradients():
    pred, target = pairs()
    pred = pred.requires_grad_()
    loss = MODELS.build(dict(type='PolygonIoULoss'))
    value = loss(pred, RotatedBoxes(target))
    value.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # a step along the gradient lowers the loss
    with torch.no_grad():
        stepped = loss(pred - 0.01 * pred.grad / pred.grad.abs().max(), target)
    assert stepped < value
