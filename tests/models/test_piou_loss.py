"""PIoULoss, the registered module: mmdet's loss API around
functional.piou_loss."""
import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmrotate.structures.bbox import RotatedBoxes

import mmdet_losses
from mmdet_losses.functional.piou import piou_loss
from mmdet_losses.models.losses.piou_loss import PIoULoss
from mmdet_losses.registry import MODELS

mmdet_losses.register_all_modules(init_default_scope=False)


def _pairs(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    size = 8 + torch.rand(n, 2, generator=g) * 40
    target = torch.cat((100 + torch.rand(n, 2, generator=g) * 50, size,
                        (torch.rand(n, 1, generator=g) - 0.5) * math.pi), 1)
    pred = target + torch.randn(
        n, 5, generator=g) * torch.tensor([3., 3., 3., 3., 0.2])
    return pred, target


def test_builds_in_our_scope_with_its_arguments():
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        loss = MODELS.build(
            dict(
                type='PIoULoss',
                k=5,
                union='hard',
                mode='official',
                loss_weight=2.0))
    assert isinstance(loss, PIoULoss)
    assert (loss.k, loss.union, loss.mode,
            loss.loss_weight) == (5, 'hard', 'official', 2.0)


def test_reductions_weights_and_avg_factor_follow_mmdet():
    pred, target = _pairs()
    per_pair = piou_loss(pred, target)
    loss = PIoULoss(loss_weight=2.0)
    torch.testing.assert_close(loss(pred, target), 2 * per_pair.mean())
    torch.testing.assert_close(
        loss(pred, target, reduction_override='sum'), 2 * per_pair.sum())
    torch.testing.assert_close(
        loss(pred, target, reduction_override='none'), 2 * per_pair)
    weight = torch.tensor([1., 0., 2., 1., 0., 1.])
    eps = torch.finfo(torch.float32).eps
    torch.testing.assert_close(
        loss(pred, target, weight, avg_factor=3.0),
        2 * (per_pair * weight).sum() / (3.0 + eps))
    # an (n, 5) weight is averaged to (n,)
    spread = torch.tensor([0.5, 1.0, 1.5, 0.8, 1.2])
    torch.testing.assert_close(
        loss(pred, target, weight[:, None] * spread, avg_factor=3.0),
        loss(pred, target, weight, avg_factor=3.0))
    with pytest.raises(AssertionError):
        loss(pred, target, reduction_override='average')
    with pytest.raises(ValueError, match='avg_factor'):
        loss(pred, target, avg_factor=2.0, reduction_override='sum')


def test_zero_weight_rows_are_skipped_whatever_they_hold():
    """Dense heads pass every anchor; negatives have zero weights and zero
    (or garbage) boxes: they cost nothing and change nothing."""
    pred, target = _pairs()
    weight = torch.tensor([1., 0., 1., 0., 1., 0.])
    pred_junk, target_junk = pred.clone(), target.clone()
    pred_junk[1] = torch.tensor([1e9, -1e9, 1e9, 1e9, 7.])
    pred_junk[3] = float('nan')
    target_junk[5] = 0
    p = pred_junk.clone().requires_grad_()
    loss = PIoULoss()(p, target_junk, weight, avg_factor=3.0)
    expected = piou_loss(pred[weight > 0], target[weight > 0]).sum() / (
        3.0 + torch.finfo(torch.float32).eps)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert torch.isfinite(p.grad).all()
    assert p.grad[weight == 0].abs().max() == 0


def test_all_zero_weights_give_an_attached_zero():
    pred, target = _pairs()
    p = pred.clone().requires_grad_()
    loss = PIoULoss()(p, target, torch.zeros(6), avg_factor=1.0)
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert p.grad.abs().max() == 0


def test_takes_rotated_box_types():
    pred, target = _pairs()
    loss = PIoULoss()
    torch.testing.assert_close(
        loss(RotatedBoxes(pred), RotatedBoxes(target)), loss(pred, target))


def test_bad_options_fail_when_built():
    with pytest.raises(ValueError, match='mode must be one of'):
        PIoULoss(mode='ln')
    with pytest.raises(ValueError, match='union must be one of'):
        PIoULoss(union='exact')
    with pytest.raises(ValueError, match='reduction'):
        PIoULoss(reduction='avg')


def test_bad_boxes_are_named_through_the_module():
    pred, target = _pairs()
    pred[2, 2] = -3
    with pytest.raises(ValueError, match='pred box 2 has a negative'):
        PIoULoss()(pred, target)


def test_samples_per_pixel_reaches_the_function():
    pred = torch.tensor([[20.3, 21.7, 9.0, 4.5, 0.4], [40., 41., 12., 6.,
                                                       -1.]])
    target = pred + torch.tensor([[0.7, -0.4, 1.0, 0.3, 0.05],
                                  [-1.0, 0.5, -2.0, 0.4, 0.1]])
    module = PIoULoss(samples_per_pixel=3, reduction='none')
    expected = piou_loss(pred, target, samples_per_pixel=3)
    torch.testing.assert_close(module(pred, target), expected)
    assert not torch.allclose(expected, piou_loss(pred, target))


@pytest.mark.parametrize('name', ['PIoULoss', 'PolygonIoULoss'])
def test_no_positive_rows_stay_in_the_graph(name):
    """All-zero weights (a batch without positives): the loss is a zero
    attached to pred, so every row gets a (zero) gradient under DDP."""
    loss = MODELS.build(dict(type=name))
    pred = torch.tensor([[10., 10., 4., 2., 0.3], [50., 50., 1e6, 0., 0.]],
                        requires_grad=True)
    target = torch.zeros(2, 5)
    out = loss(pred, target, weight=torch.zeros(2))
    assert out.item() == 0 and out.requires_grad
    out.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))
