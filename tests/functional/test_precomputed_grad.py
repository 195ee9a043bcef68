"""Losses that compute their gradient in the forward pass: the gradient
buffer handed to autograd is never one the loss still uses, a retained
graph backpropagates again to the same result, and a loss_weight applied
inside equals one applied outside."""
import pytest
import torch

from mmdet_losses.functional import (ciou_loss, distribution_focal_loss,
                                     giou_loss, quality_focal_loss,
                                     sigmoid_focal_loss)


def boxes(n, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=dtype) * 50
    return torch.cat(
        [xy, xy + torch.rand(n, 2, generator=g, dtype=dtype) * 30 + 1], 1)


def cases(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    pred_boxes, target_boxes = boxes(40, 1, dtype), boxes(40, 2, dtype)
    logits = torch.randn(40, 5, generator=g, dtype=dtype)
    labels = torch.randint(0, 6, (40, ), generator=g)
    scores = torch.rand(40, generator=g, dtype=dtype)
    bins = torch.randn(40, 9, generator=g, dtype=dtype)
    targets = torch.rand(40, generator=g, dtype=dtype) * 7.9
    weight = torch.rand(40, generator=g, dtype=dtype)
    return {
        'giou': (lambda x, **kw: giou_loss(x, target_boxes, **kw), pred_boxes),
        'ciou': (lambda x, **kw: ciou_loss(x, target_boxes, **kw), pred_boxes),
        'focal': (lambda x, **kw: sigmoid_focal_loss(x, labels, **kw), logits),
        'qfl':
        (lambda x, **kw: quality_focal_loss(x,
                                            (labels, scores), **kw), logits),
        'dfl':
        (lambda x, **kw: distribution_focal_loss(x, targets, **kw), bins),
    }, weight


@pytest.mark.parametrize('name', ['giou', 'ciou', 'focal', 'qfl', 'dfl'])
def test_retained_graph_backpropagates_to_the_same_gradient(name):
    fns, weight = cases()
    fn, x = fns[name]
    x = x.clone().requires_grad_()
    loss = fn(x, weight=weight, reduction='mean', avg_factor=7.0)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    # the optimizer zeroes the gradient in place: the handed-over buffer
    # must not be one the graph still reads
    x.grad.zero_()
    loss.backward(retain_graph=True)
    torch.testing.assert_close(x.grad, first)
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


@pytest.mark.parametrize('name', ['giou', 'ciou', 'focal', 'qfl', 'dfl'])
def test_loss_weight_inside_equals_outside(name):
    fns, weight = cases()
    fn, x = fns[name]
    for reduction, avg_factor in (('mean', 7.0), ('sum', None), ('none',
                                                                 None)):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        inside = fn(
            a,
            weight=weight,
            reduction=reduction,
            avg_factor=avg_factor,
            loss_weight=2.5)
        outside = 2.5 * fn(
            b, weight=weight, reduction=reduction, avg_factor=avg_factor)
        torch.testing.assert_close(inside, outside)
        inside.sum().backward()
        outside.sum().backward()
        torch.testing.assert_close(a.grad, b.grad)


def test_an_upstream_gradient_other_than_one_scales_the_buffer():
    fns, weight = cases()
    fn, x = fns['giou']
    x = x.clone().requires_grad_()
    (3.0 * fn(x, weight=weight, reduction='sum')).backward()
    y = x.detach().clone().requires_grad_()
    fn(y, weight=weight, reduction='sum').backward()
    torch.testing.assert_close(x.grad, 3.0 * y.grad)


@pytest.mark.parametrize('name', ['giou', 'ciou', 'focal', 'qfl', 'dfl'])
def test_autocast_leaves_the_passes_in_float32(name):
    """Under bfloat16 autocast (mixed precision on a CPU) the losses still
    compute in float32: the same value and gradient as without it."""
    fns, weight = cases(torch.float32)
    fn, x = fns[name]
    want_x = x.clone().requires_grad_()
    want = fn(want_x, weight=weight, reduction='mean', avg_factor=7.0)
    want.backward()
    got_x = x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = fn(got_x, weight=weight, reduction='mean', avg_factor=7.0)
    got.backward()
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_x.grad, want_x.grad)
