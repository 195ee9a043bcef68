"""weight_reduce_loss: mmdet's rules, and an attached zero (not NaN) for
the mean of nothing."""
import pytest
import torch

from mmdet_losses.functional.reduction import (fused_scale, reduce_loss,
                                               weight_reduce_loss)


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
@pytest.mark.parametrize('avg_factor', [None, 0.0, 3.5])
@pytest.mark.parametrize('with_weight', [False, True])
def test_matches_mmdet(reduction, avg_factor, with_weight):
    from mmdet.models.losses.utils import weight_reduce_loss as mmdet_rule
    g = torch.Generator().manual_seed(0)
    loss = torch.rand(6, 3, generator=g)
    weight = torch.rand(6, 1, generator=g) if with_weight else None
    if reduction == 'sum' and avg_factor is not None:
        for rule in (weight_reduce_loss, mmdet_rule):
            with pytest.raises(ValueError, match='avg_factor'):
                rule(loss, weight, reduction, avg_factor)
        return
    torch.testing.assert_close(
        weight_reduce_loss(loss, weight, reduction, avg_factor),
        mmdet_rule(loss, weight, reduction, avg_factor))


def test_mean_of_nothing_is_an_attached_zero():
    loss = torch.zeros(0, requires_grad=True) * 2
    reduced = reduce_loss(loss, 'mean')
    assert reduced.item() == 0 and reduced.requires_grad
    assert weight_reduce_loss(loss, torch.zeros(0)).item() == 0


def test_unknown_reduction():
    with pytest.raises(ValueError, match="got 'avg'"):
        reduce_loss(torch.ones(2), 'avg')


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
@pytest.mark.parametrize('avg_factor', [None, 0.0, 3.5])
def test_fused_scale_equals_weight_reduce_loss(reduction, avg_factor):
    """The factor a fused pass applies to sum(weight * loss) (each weighted
    element with 'none') is weight_reduce_loss's, loss_weight included."""
    g = torch.Generator().manual_seed(1)
    loss = torch.rand(6, generator=g, dtype=torch.float64)
    weight = torch.rand(6, generator=g, dtype=torch.float64)
    if reduction == 'sum' and avg_factor is not None:
        with pytest.raises(ValueError, match='avg_factor'):
            fused_scale(weight, reduction, avg_factor, 2.0, 6)
        return
    scale = fused_scale(weight, reduction, avg_factor, 2.0, 6)
    want = weight_reduce_loss(
        loss, weight, reduction, avg_factor, loss_weight=2.0)
    got = loss * weight * scale
    torch.testing.assert_close(got if reduction == 'none' else got.sum(), want)


def test_fused_scale_leaves_learnt_weights_and_tensor_factors_to_autograd():
    weight = torch.ones(3, requires_grad=True)
    assert fused_scale(weight, 'mean', None, 1.0, 3) is None
    assert fused_scale(None, 'mean', torch.tensor(2.0), 1.0, 3) is None
    # the mean of nothing: a zero sum, not a division by 0
    assert fused_scale(None, 'mean', None, 1.5, 0) == 1.5
    with pytest.raises(ValueError, match='reduction must be one of'):
        fused_scale(None, 'avg', None, 1.0, 3)
