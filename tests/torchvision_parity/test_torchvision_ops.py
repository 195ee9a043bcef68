"""mmdet_losses.functional against torchvision.ops: GIoU, DIoU and CIoU
losses (CIoU without alpha gating, torchvision's convention), sigmoid focal
loss and the pairwise IoU matrices, in value and gradient (float32,
relative 1e-5). Imports only torch, torchvision and the functional core."""
import pytest
import torch

from mmdet_losses.functional import (box_iou, ciou_loss, diou_loss, giou_loss,
                                     sigmoid_focal_loss)


def box_pairs(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)

    def boxes():
        xy = torch.rand(n, 2, generator=g) * 100
        return torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 50 + 1], 1)

    pred, target = boxes(), boxes()
    target[::2] = pred[::2] + torch.randn(n // 2, 4, generator=g) * 3
    target[::2, 2:] = torch.maximum(target[::2, 2:], target[::2, :2] + 1)
    # identical, nested, disjoint pairs (touching edges excluded: there
    # torchvision's strict overlap test stops the gradient, the clamp of
    # mmdet and of this package lets it through)
    edge_pred = torch.tensor([[0., 0., 10., 10.], [2., 3., 6., 7.],
                              [0., 0., 10., 10.], [0., 0., 1., 1.]])
    edge_target = torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.],
                                [20., 30., 25., 40.], [500., 500., 900.,
                                                       600.]])
    return torch.cat([pred, edge_pred]), torch.cat([target, edge_target])


def value_and_grads(fn, pred, target):
    pred = pred.clone().requires_grad_()
    target = target.clone().requires_grad_()
    loss = fn(pred, target)
    upstream = torch.linspace(0.5, 1.5, loss.numel())
    (loss.reshape(-1) * upstream).sum().backward()
    return loss.detach(), pred.grad, target.grad


@pytest.mark.parametrize('ours,theirs', [
    (giou_loss, 'generalized_box_iou_loss'),
    (diou_loss, 'distance_box_iou_loss'),
    (ciou_loss, 'complete_box_iou_loss'),
])
def test_box_losses_match(tv_ops, ours, theirs):
    pred, target = box_pairs()
    got = value_and_grads(ours, pred, target)
    want = value_and_grads(getattr(tv_ops, theirs), pred, target)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_ciou_gating_is_what_differs_from_torchvision(tv_ops):
    pred = torch.tensor([[0., 0., 10., 4.]])
    target = torch.tensor([[3., 0., 7., 10.]])  # IoU < 0.5
    torchvision_value = tv_ops.complete_box_iou_loss(pred, target)
    torch.testing.assert_close(ciou_loss(pred, target), torchvision_value)
    gated = ciou_loss(pred, target, alpha_iou_threshold=0.5)
    assert (gated < torchvision_value).all()


@pytest.mark.parametrize('gamma,alpha', [(2.0, 0.25), (0.5, 0.75),
                                         (0.0, 0.25)])
def test_sigmoid_focal_loss_matches(tv_ops, gamma, alpha):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(200, 7, generator=g) * 3
    labels = torch.randint(0, 8, (200, ), generator=g)
    one_hot = torch.nn.functional.one_hot(labels, 8)[:, :7].float()
    soft = torch.rand(200, 7, generator=g)
    for target, ours_target in ((one_hot, labels), (soft, soft)):
        x, y = logits.clone().requires_grad_(), logits.clone().requires_grad_()
        got = sigmoid_focal_loss(
            x, ours_target, gamma=gamma, alpha=alpha, reduction='none')
        want = tv_ops.sigmoid_focal_loss(
            y, target, alpha=alpha, gamma=gamma, reduction='none')
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        got.sum().backward()
        want.sum().backward()
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-6)


def test_pairwise_matrices_match(tv_ops):
    pred, target = box_pairs(n=60, seed=2)
    torch.testing.assert_close(
        box_iou(pred, target, 'iou', eps=1e-7), tv_ops.box_iou(pred, target))
    torch.testing.assert_close(
        box_iou(pred, target, 'giou', eps=1e-7),
        tv_ops.generalized_box_iou(pred, target))
    torch.testing.assert_close(
        box_iou(pred, target, 'diou', eps=1e-7),
        tv_ops.distance_box_iou(pred, target))
