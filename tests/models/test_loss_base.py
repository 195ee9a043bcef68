"""The shared idioms of the loss modules (models/losses/base.py): the
zero-weight shortcut, the positive-rows computation and the dense-map
layout."""
import pytest
import torch

from mmdet_losses.models.losses.base import (SpatialLayout, attached_zeros,
                                             check_avg_factor,
                                             positive_rows_loss,
                                             zero_weight_loss)


def test_zero_weight_loss_is_mmdets_attached_zero():
    pred = torch.randn(5, 4, requires_grad=True)
    assert zero_weight_loss(pred, None) is None
    assert zero_weight_loss(pred, torch.tensor([0., 0, 1, 0, 0])) is None
    zero = zero_weight_loss(pred, torch.zeros(5))
    assert zero.item() == 0 and zero.shape == ()
    zero.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))
    # an empty weight has no positive entry either
    assert zero_weight_loss(pred[:0], torch.zeros(0)).item() == 0
    # not taken under 'none' when asked (the IoU family's rule)
    assert zero_weight_loss(pred, torch.zeros(5), 'none') is None
    assert zero_weight_loss(pred, torch.zeros(5), 'mean') is not None


def test_check_avg_factor():
    check_avg_factor('mean', 3.0)
    check_avg_factor('sum', None)
    with pytest.raises(ValueError, match='avg_factor'):
        check_avg_factor('sum', 3.0)


def test_attached_zeros_stay_finite_on_garbage():
    pred = torch.tensor([[1., float('inf')], [float('nan'), 2.]],
                        requires_grad=True)
    zeros = attached_zeros(pred, 3, torch.ones(1, dtype=torch.float64))
    assert zeros.dtype == torch.float64 and torch.equal(
        zeros, torch.zeros(3, dtype=torch.float64))
    zeros.sum().backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_positive_rows_loss_computes_the_kept_rows_only():
    seen = []

    def row_loss(p, t):
        seen.append(len(p))
        return (p - t).abs().sum(-1)

    pred = torch.randn(6, 4, dtype=torch.float64)
    pred[[1, 4]] = float('inf')  # negatives may hold anything
    pred.requires_grad_()
    target = torch.randn(6, 4, dtype=torch.float64)
    weight = torch.tensor([1., 0, 2, .5, 0, 3])
    loss = positive_rows_loss(row_loss, pred, target, weight)
    assert seen == [4]
    expected = (pred.detach() - target).abs().sum(-1)
    expected[[1, 4]] = 0
    torch.testing.assert_close(loss, expected)
    loss.sum().backward()
    assert torch.isfinite(pred.grad).all()
    assert torch.equal(pred.grad[[1, 4]],
                       torch.zeros(2, 4, dtype=torch.float64))
    # (n, k) weights are averaged; no weight or all positive: every row
    seen.clear()
    positive_rows_loss(
        row_loss, pred.detach(), target,
        torch.tensor([[1., 1], [0, 0], [1, 0], [0, 1], [0, 0], [2, 2]]))
    positive_rows_loss(row_loss, pred.detach()[[0, 2]], target[[0, 2]], None)
    positive_rows_loss(row_loss,
                       pred.detach()[[0, 2]], target[[0, 2]], torch.ones(2))
    assert seen == [4, 2, 2]


def test_positive_rows_loss_without_positives_is_an_attached_zero():
    pred = torch.full((3, 5), float('inf'), requires_grad=True)
    loss = positive_rows_loss(lambda p, t: p.sum(-1), pred, pred.detach(),
                              torch.zeros(3))
    assert torch.equal(loss, torch.zeros(3)) and loss.requires_grad
    loss.sum().backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_spatial_layout_round_trip():
    pred = torch.randn(2, 3, 4, 5)
    layout = SpatialLayout(pred)
    rows = layout.rows(pred)
    assert rows.shape == (40, 3)
    # row r holds the C scores of one location, channels last
    torch.testing.assert_close(rows[7], pred[0, :, 1, 2])
    assert torch.equal(layout.restore(rows), pred)
    per_location = torch.randn(2, 4, 5)
    assert torch.equal(layout.rows(per_location), per_location.reshape(-1))
    assert torch.equal(layout.restore(per_location.reshape(-1)), per_location)
    # broadcasting shapes are expanded
    assert torch.equal(layout.rows(torch.ones(2, 4, 1)), torch.ones(40))
    assert torch.equal(layout.rows(torch.ones(1, 3, 1, 1)), torch.ones(40, 3))
    with pytest.raises(ValueError, match='expected a tensor of shape'):
        layout.rows(torch.ones(2, 4))
