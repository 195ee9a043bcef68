"""IoU-family losses: parity with mmdet, analytic derivatives against
autograd of the formulas and finite differences, pairwise IoU, reduction,
robustness on bad boxes in every floating dtype, errors.

Every test runs twice: on the compiled CPU kernel (float32 and float64 on
CPU, see :mod:`mmdet_losses.functional.native`) and on the torch
implementation (every other device and dtype)."""
import importlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loss_references import edge_case_pairs, random_boxes, reference_iou_family

from mmdet_losses.functional import box_iou, ciou_loss, diou_loss, giou_loss
from mmdet_losses.functional import iou_family as family
from mmdet_losses.functional import iou_loss, native
from mmdet_losses.functional.reduction import weight_reduce_loss

KINDS = [('iou', 'log'), ('iou', 'linear'), ('iou', 'square'), ('giou', ''),
         ('diou', ''), ('ciou', '')]


@pytest.fixture(autouse=True, params=['compiled', 'torch'])
def implementation(request):
    if request.param == 'torch':
        with native.disabled():
            yield request.param
        return
    if native._compiler() is None:
        pytest.skip('no C++ compiler: the compiled kernel can not be built')
    assert native.iou_family_kernel(torch.float32) is not None
    yield request.param


def ours(kind, mode='log', eps=1e-7, threshold=None):
    if kind == 'iou':
        return lambda p, t, **kw: iou_loss(p, t, mode, eps, **kw)
    if kind == 'ciou':
        return lambda p, t, **kw: ciou_loss(p, t, eps, threshold, **kw)
    return lambda p, t, **kw: {
        'giou': giou_loss,
        'diou': diou_loss
    }[kind](p, t, eps, **kw)


def pairs(n=200, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    pred, target = random_boxes(n, g), random_boxes(n, g)
    # some overlapping pairs: the target moved a little
    target[::3] = pred[::3] + torch.randn(
        len(pred[::3]), 4, generator=g, dtype=torch.float64) * 5
    target[::3, 2:] = torch.maximum(target[::3, 2:], target[::3, :2] + 1)
    edge_pred, edge_target = edge_case_pairs()
    return (torch.cat([pred, edge_pred]).to(dtype),
            torch.cat([target, edge_target]).to(dtype))


def value_and_grads(fn, pred, target, **kwargs):
    pred = pred.clone().requires_grad_()
    target = target.clone().requires_grad_()
    loss = fn(pred, target, **kwargs)
    # a non-uniform upstream gradient exercises every row
    upstream = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype)
    (loss.reshape(-1) * upstream).sum().backward()
    return loss.detach(), pred.grad, target.grad


def tiny_pairs():
    """Pairs whose union falls below eps = 1e-7: there the union is floored
    and stops carrying gradient."""
    pred = torch.tensor([[0, 0, 1e-4, 1e-4], [0, 0, 2e-4, 1e-4]],
                        dtype=torch.float64)
    target = torch.tensor([[5e-5, 0, 1.5e-4, 1e-4], [1e-4, 0, 2e-4, 2e-4]],
                          dtype=torch.float64)
    return pred, target


@pytest.mark.parametrize('kind,mode', KINDS)
def test_analytic_gradient_equals_autograd_of_the_formula(kind, mode):
    pred, target = pairs()
    tiny_pred, tiny_target = tiny_pairs()
    pred = torch.cat([pred, tiny_pred])
    target = torch.cat([target, tiny_target])
    threshold = 0.5 if kind == 'ciou' else None
    got = value_and_grads(ours(kind, mode, 1e-7, threshold), pred, target)
    want = value_and_grads(
        lambda p, t: reference_iou_family(p, t, kind, mode, 1e-7, threshold),
        pred, target)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_ciou_ungated_alpha_equals_autograd_of_the_formula():
    pred, target = pairs(seed=1)
    got = value_and_grads(ours('ciou'), pred, target)
    want = value_and_grads(lambda p, t: reference_iou_family(p, t, 'ciou'),
                           pred, target)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('kind,mode', KINDS)
def test_gradcheck_float64(kind, mode):
    pred, target = pairs(n=12, seed=2)
    pred = pred[:12].requires_grad_()
    target = target[:12].requires_grad_()
    spec = family.LossSpec(kind, mode, 1e-7, None)
    alpha = None
    if kind == 'ciou':
        # alpha has no gradient by definition: hold it fixed so that the
        # function gradcheck differentiates is the one the backward uses
        alpha = torch.rand(12, dtype=torch.float64)

    def loss(p, t):
        return family._iou_family(p, t, spec, alpha=alpha)

    assert torch.autograd.gradcheck(loss, (pred, target))
    weight = torch.rand(12, dtype=torch.float64)

    def reduced(p, t):
        return family._iou_family(
            p, t, spec, weight=weight, reduction='sum', alpha=alpha)

    assert torch.autograd.gradcheck(reduced, (pred, target))


def mmdet_loss(kind, mode):
    m = importlib.import_module('mmdet.models.losses.iou_loss')
    if kind == 'iou':
        return lambda p, t, **kw: m.iou_loss(p, t, mode=mode, **kw)
    return lambda p, t, **kw: getattr(m, f'{kind}_loss')(p, t, **kw)


@pytest.mark.parametrize('kind,mode', KINDS)
@pytest.mark.parametrize('reduction', ['none', 'mean'])
def test_matches_mmdet_float32(kind, mode, reduction):
    pred, target = pairs(dtype=torch.float32, seed=3)
    weight = torch.rand(len(pred), generator=torch.Generator().manual_seed(0))
    kwargs = dict(weight=weight, reduction=reduction)
    if reduction == 'mean':
        kwargs['avg_factor'] = 37.0
    # mmdet's eps: 1e-6 (bbox_overlaps' default for IoU); CIoU gates alpha
    got = value_and_grads(
        ours(kind, mode, 1e-6, 0.5 if kind == 'ciou' else None), pred, target,
        **kwargs)
    eps_kw = {} if kind == 'iou' else {'eps': 1e-6}
    if kind == 'ciou':
        # mmdet's CIoU is NaN on identical boxes (alpha = 0 / 0), see
        # test_ciou_identical_boxes_are_finite; compare the other pairs
        keep = (pred != target).any(1)
        pred, target, weight = pred[keep], target[keep], weight[keep]
        kwargs['weight'] = weight
        got = value_and_grads(
            ours(kind, mode, 1e-6, 0.5), pred, target, **kwargs)
    want = value_and_grads(
        mmdet_loss(kind, mode), pred, target, **kwargs, **eps_kw)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_ciou_identical_boxes_are_finite():
    box = torch.tensor([[0., 0., 10., 10.]])
    pred = box.clone().requires_grad_()
    loss = ciou_loss(pred, box, 1e-6, 0.5)
    loss.sum().backward()
    assert loss.item() == 0
    # an exact match is a minimum: zero gradient, up to rounding
    torch.testing.assert_close(
        pred.grad, torch.zeros_like(pred), rtol=0, atol=1e-7)
    # mmdet: 1 - IoU rounds to 0 in float32, and alpha = 0 / 0
    assert mmdet_loss('ciou', '')(box, box, eps=1e-6).isnan().all()


def test_ciou_alpha_gating_is_an_option():
    # a pair with IoU < 0.5 and different aspect ratios: gating changes it
    pred = torch.tensor([[0., 0., 10., 4.]])
    target = torch.tensor([[3., 0., 7., 10.]])
    gated = ciou_loss(pred, target, alpha_iou_threshold=0.5)
    ungated = ciou_loss(pred, target)
    diou = diou_loss(pred, target)
    torch.testing.assert_close(gated, diou)
    assert (ungated > diou).all()


def test_box_iou_pairwise_matches_mmdet_and_the_aligned_losses():
    from mmdet.structures.bbox import bbox_overlaps
    g = torch.Generator().manual_seed(4)
    a, b = random_boxes(30, g), random_boxes(20, g)
    for mode in ('iou', 'giou'):
        torch.testing.assert_close(
            box_iou(a, b, mode), bbox_overlaps(a, b, mode, eps=1e-6))
    # the diagonal of the pairwise matrix is the aligned pairs' metric
    pairwise = box_iou(a[:20], b, 'diou', eps=1e-7)
    aligned = 1 - diou_loss(a[:20], b)
    torch.testing.assert_close(pairwise.diagonal(), aligned)
    assert box_iou(a, b[:0]).shape == (30, 0)
    assert box_iou(a.half(), b.half()).dtype == torch.float16


@pytest.mark.parametrize('mode', ['iou', 'giou', 'diou'])
def test_box_iou_is_differentiable(mode):
    """box_iou runs through autograd (its documented contract): the enclosing
    box of GIoU/DIoU is not written with out= where a graph is built."""
    g = torch.Generator().manual_seed(8)
    a, b = random_boxes(6, g), random_boxes(5, g)
    a.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: box_iou(x, b, mode), (a, ))


@pytest.mark.parametrize('kind,mode', KINDS)
def test_fused_reduction_equals_weighting_the_elementwise_loss(kind, mode):
    pred, target = pairs(seed=5)
    weight = torch.rand(len(pred), dtype=torch.float64)
    fn = ours(kind, mode)
    elementwise = fn(pred, target)
    for reduction, avg_factor in (('sum', None), ('mean', None), ('mean',
                                                                  12.5)):
        got = value_and_grads(
            fn,
            pred,
            target,
            weight=weight,
            reduction=reduction,
            avg_factor=avg_factor)
        want = value_and_grads(
            lambda p, t: weight_reduce_loss(
                fn(p, t), weight, reduction, avg_factor), pred, target)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)
    assert elementwise.shape == (len(pred), )


def test_chunking_does_not_change_the_result(monkeypatch):
    pred, target = pairs(n=100, seed=6)
    whole = value_and_grads(ours('ciou'), pred, target)
    monkeypatch.setattr(family, '_chunk_size', lambda n, device: 7)
    chunked = value_and_grads(ours('ciou'), pred, target)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_leading_dimensions_are_kept():
    pred, target = pairs(n=24, seed=7)
    pred, target = pred[:24].reshape(2, 3, 4,
                                     4), target[:24].reshape(2, 3, 4, 4)
    loss = giou_loss(pred, target)
    assert loss.shape == (2, 3, 4)
    torch.testing.assert_close(
        loss.reshape(-1),
        giou_loss(pred.reshape(-1, 4), target.reshape(-1, 4)))


@pytest.mark.parametrize('kind,mode', KINDS)
@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_empty_input_gives_an_attached_zero(kind, mode, reduction):
    pred = torch.zeros(0, 4, requires_grad=True)
    loss = ours(kind, mode)(pred, torch.zeros(0, 4), reduction=reduction)
    assert loss.numel() == 0 or loss.item() == 0
    assert loss.requires_grad
    loss.sum().backward()
    assert pred.grad.shape == (0, 4)


def test_all_zero_weights_give_an_attached_zero_with_zero_gradient():
    pred, target = pairs(n=10, dtype=torch.float32)
    pred.requires_grad_()
    loss = giou_loss(
        pred, target, weight=torch.zeros(len(pred)), reduction='mean')
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_half_precision_computes_in_float32():
    pred, target = pairs(n=50, dtype=torch.float32, seed=8)
    for dtype in (torch.float16, torch.bfloat16):
        p = pred.to(dtype).requires_grad_()
        loss = ciou_loss(p, target.to(dtype))
        assert loss.dtype == torch.float32
        loss.sum().backward()
        assert p.grad.dtype == dtype
        want = ciou_loss(pred.to(dtype).float(), target.to(dtype).float())
        torch.testing.assert_close(loss, want)


def test_float16_gradient_saturates_instead_of_overflowing():
    # an overlap 1e-5 wide: d(-log IoU)/d(x2) is about -1 / 1e-5 = -1e5
    pred = torch.tensor([[0., 0., 1e-3, 1e-3]], dtype=torch.float16)
    target = torch.tensor([[9.9e-4, 0, 2e-3, 1e-3]], dtype=torch.float16)
    pred.requires_grad_()
    iou_loss(pred, target).sum().backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().max() == torch.finfo(torch.float16).max


def test_bad_input_is_named():
    box = torch.zeros(3, 4)
    with pytest.raises(ValueError, match='same shape'):
        giou_loss(box, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r'\(\.\.\., 4\)'):
        giou_loss(torch.zeros(3, 5), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="mode must be one of"):
        iou_loss(box, box, mode='cubic')
    with pytest.raises(ValueError, match='reduction must be one of'):
        giou_loss(box, box, reduction='avg')
    with pytest.raises(ValueError, match='avg_factor can not be used'):
        giou_loss(box, box, reduction='sum', avg_factor=2.0)
    with pytest.raises(ValueError, match='eps must be positive'):
        giou_loss(box, box, eps=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        box_iou(box, box, mode='iof')


# -- robustness: degenerate, zero-area, inverted, huge and tiny boxes ------

# float16 cannot hold 1e5 (its largest number is 65504): its huge boxes
# stop at 4e4 (corners up to 6e4)
HUGE = {torch.float32: 1e5, torch.bfloat16: 1e5, torch.float16: 4e4}


@st.composite
def bad_box(draw, huge):
    scale = draw(st.sampled_from([1e-4, 1.0, 100.0, huge]))
    # corners stay within [-1.5 scale, 1.5 scale]
    x, y = (draw(st.floats(-0.5, 0.5)) * scale for _ in range(2))
    kind = draw(
        st.sampled_from(['normal', 'zero_w', 'zero_h', 'point', 'inverted']))
    w = draw(st.floats(0.0, 1.0)) * scale
    h = draw(st.floats(0.0, 1.0)) * scale
    if kind == 'zero_w':
        w = 0.0
    elif kind == 'zero_h':
        h = 0.0
    elif kind == 'point':
        w = h = 0.0
    elif kind == 'inverted':
        w, h = -w, draw(st.sampled_from([h, -h]))
    return [x, y, x + w, y + h]


@st.composite
def box_pairs(draw, dtype):
    n = draw(st.integers(1, 8))
    huge = HUGE[dtype]
    pred = [draw(bad_box(huge)) for _ in range(n)]
    target = [draw(st.one_of(bad_box(huge), st.just(p)))
              for p in pred]  # some targets equal their prediction
    return (torch.tensor(pred, dtype=dtype), torch.tensor(target, dtype=dtype))


@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize('kind,mode', KINDS)
def test_no_nan_or_inf_on_bad_boxes(dtype, kind, mode):

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow])
    @given(box_pairs(dtype))
    def check(boxes):
        pred, target = boxes
        pred.requires_grad_()
        target.requires_grad_()
        loss = ours(kind, mode, threshold=0.5)(pred, target)
        assert torch.isfinite(loss).all(), (pred, target, loss)
        loss.sum().backward()
        assert torch.isfinite(pred.grad).all(), (pred, target, pred.grad)
        assert torch.isfinite(target.grad).all(), (pred, target)

    check()


def test_pair_geometry_matches_the_xyxy_formulas():
    """Every field of ``pair_geometry`` (computed in bounds form) against
    the 'xyxy' formulas written out, in float64, on random and edge-case
    pairs (touching, identical, inverted, zero-area)."""
    pred, target = pairs(seed=11)
    b1, b2 = pred.t(), target.t()
    geo = family.pair_geometry(
        b1, b2, 1e-7, enclose=True, centres=True, sizes=True, d_inter=True)
    x1, y1, x2, y2 = b1
    u1, v1, u2, v2 = b2
    iw_raw = torch.minimum(x2, u2) - torch.maximum(x1, u1)
    ih_raw = torch.minimum(y2, v2) - torch.maximum(y1, v1)
    iw, ih = iw_raw.clamp(min=0), ih_raw.clamp(min=0)
    union = ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) -
             iw * ih).clamp(min=1e-7)
    want = dict(
        union=union,
        iou=iw * ih / union,
        enclose_wh=torch.stack([
            torch.maximum(x2, u2) - torch.minimum(x1, u1),
            torch.maximum(y2, v2) - torch.minimum(y1, v1)
        ]).clamp(min=0),
        centre_offset=torch.stack([(x1 + x2) - (u1 + u2),
                                   (y1 + y2) - (v1 + v2)]),
        wh1=torch.stack([x2 - x1, y2 - y1]),
        wh2=torch.stack([u2 - u1, v2 - v1]),
        d_inter=torch.stack([(iw_raw >= 0) * ih, (ih_raw >= 0) * iw]),
        # which box sets each side of the intersection: the sign of the
        # difference of the bounds (-x1, -y1, x2, y2)
        bounds_diff=torch.stack([u1 - x1, v1 - y1, x2 - u2, y2 - v2]))
    for name, value in want.items():
        torch.testing.assert_close(
            getattr(geo, name), value.to(torch.float64), msg=name)
    # the inputs are not touched
    assert torch.equal(b1, pred.t()) and torch.equal(b2, target.t())
