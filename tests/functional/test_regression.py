"""L1, smooth L1 and MSE: torch.nn.functional values, mmdet's weighting,
empty input."""
import pytest
import torch
import torch.nn.functional as F

from mmdet_losses.functional import l1_loss, mse_loss, smooth_l1_loss


def grads_of(fn, x):
    x = x.detach().clone().requires_grad_()
    out = fn(x)
    out.sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize('beta', [0.5, 1.0, 1 / 9])
def test_match_torch_and_mmdet(beta):
    from mmdet.models.losses import smooth_l1_loss as m_smooth
    from mmdet.models.losses.mse_loss import mse_loss as m_mse
    from mmdet.models.losses.smooth_l1_loss import l1_loss as m_l1
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 40, 4, generator=g)
    weight = torch.rand(40, 4, generator=g)
    for ours, torch_fn, mmdet_fn in (
        (l1_loss, F.l1_loss, m_l1),
        (mse_loss, F.mse_loss, m_mse),
        (lambda *a, **k: smooth_l1_loss(*a, beta=beta, **k),
         lambda *a, **k: F.smooth_l1_loss(*a, beta=beta, **k),
         lambda *a, **k: m_smooth(*a, beta=beta, **k)),
    ):
        for a, b in zip(
                grads_of(lambda p: ours(p, target, reduction='none'), pred),
                grads_of(lambda p: torch_fn(p, target, reduction='none'),
                         pred)):
            torch.testing.assert_close(a, b)
        for a, b in zip(
                grads_of(lambda p: ours(p, target, weight, avg_factor=9.),
                         pred),
                grads_of(lambda p: mmdet_fn(p, target, weight, avg_factor=9.),
                         pred)):
            torch.testing.assert_close(a, b)


def test_empty_target_gives_an_attached_zero():
    pred = torch.zeros(0, 4, requires_grad=True)
    for fn in (l1_loss, smooth_l1_loss, mse_loss):
        loss = fn(pred, torch.zeros(0, 4))
        assert loss.item() == 0 and loss.requires_grad


def test_errors():
    with pytest.raises(ValueError, match='beta must be positive'):
        smooth_l1_loss(torch.ones(2), torch.ones(2), beta=0)
    with pytest.raises(ValueError, match='same shape'):
        l1_loss(torch.ones(2, 4), torch.ones(3, 4))
