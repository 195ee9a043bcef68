"""Quality Focal Loss and Distribution Focal Loss: parity with mmdet,
analytic derivatives against autograd of the formulas and finite
differences, the DFL bin conventions (mmdet and ultralytics), the bin
interval, target checks."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_references import one_hot_targets, reference_dfl, reference_qfl

from mmdet_losses.functional import distribution_focal_loss, quality_focal_loss


def grads_of(fn, *inputs):
    inputs = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*inputs)
    upstream = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype)
    (out.reshape(-1) * upstream).sum().backward()
    return [out.detach()] + [x.grad for x in inputs]


def assert_all_close(got, want, **kwargs):
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **kwargs)


def qfl_inputs(n=80, c=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, c, generator=g) * 3).to(dtype)
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    scores = torch.rand(n, generator=g).to(dtype)
    return logits, labels, scores


def dfl_inputs(m=120, bins=17, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(m, bins, generator=g) * 3).to(dtype)
    target = (torch.rand(m, generator=g) * (bins - 1.01)).to(dtype)
    target[:3] = torch.tensor([0.0, 3.0, bins - 1.01])  # on bins, near end
    return logits, target


# -- QFL --------------------------------------------------------------------


@pytest.mark.parametrize('beta', [0.0, 0.5, 1.0, 2.0, 2.5, 4.0])
def test_qfl_equals_autograd_of_the_formula(beta):
    logits, labels, scores = qfl_inputs()
    weight = torch.rand(len(labels), dtype=torch.float64)
    soft = one_hot_targets(labels, 6, scores)
    want = grads_of(lambda x: reference_qfl(x, soft, beta) * weight, logits)
    got = grads_of(
        lambda x: quality_focal_loss(
            x, (labels, scores), weight, beta, reduction='none'), logits)
    assert_all_close(got, want, rtol=1e-10, atol=1e-12)
    got = grads_of(
        lambda x: quality_focal_loss(x, soft, weight, beta, reduction='none'),
        logits)
    assert_all_close(got, want, rtol=1e-10, atol=1e-12)


def test_qfl_gradcheck_float64():
    logits, labels, scores = qfl_inputs(n=6, c=4, seed=1)
    x = logits.requires_grad_()
    for target in ((labels, scores), torch.rand(6, 4, dtype=torch.float64)):
        for reduction in ('none', 'sum'):
            assert torch.autograd.gradcheck(
                lambda x: quality_focal_loss(x, target, reduction=reduction),
                (x, ))


@pytest.mark.parametrize('reduction,avg_factor',
                         [('none', None), ('mean', None), ('mean', 7.0),
                          ('sum', None)])
def test_qfl_matches_mmdet_float32(reduction, avg_factor):
    from mmdet.models.losses import gfocal_loss as m
    logits, labels, scores = qfl_inputs(n=300, c=9, dtype=torch.float32)
    weight = torch.rand(300)
    kwargs = dict(reduction=reduction, avg_factor=avg_factor)
    want = grads_of(
        lambda x: m.quality_focal_loss(x, (labels, scores), weight, **kwargs),
        logits)
    got = grads_of(
        lambda x: quality_focal_loss(x, (labels, scores), weight, **kwargs),
        logits)
    assert_all_close(got, want, rtol=1e-5, atol=1e-7)
    soft = one_hot_targets(labels, 9, scores, dtype=torch.float32)
    want = grads_of(
        lambda x: m.quality_focal_loss_tensor_target(x, soft, weight, **kwargs
                                                     ), logits)
    got = grads_of(lambda x: quality_focal_loss(x, soft, weight, **kwargs),
                   logits)
    assert_all_close(got, want, rtol=1e-5, atol=1e-7)
    # probabilities (activated)
    probs = logits.sigmoid()
    want = grads_of(
        lambda p: m.quality_focal_loss_with_prob(p, (labels, scores), weight,
                                                 **kwargs), probs)
    got = grads_of(
        lambda p: quality_focal_loss(
            p, (labels, scores), weight, activated=True, **kwargs), probs)
    assert_all_close(got, want, rtol=1e-5, atol=1e-7)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from([-1e4, -50., -5., 0., 5., 50., 1e4]),
        min_size=1,
        max_size=10), st.sampled_from([0.5, 2.0]),
    st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_qfl_is_finite_on_saturated_logits_and_exact_scores(
        values, beta, dtype):
    n = len(values)
    x = torch.tensor(values, dtype=dtype)[:, None].repeat(1, 3)
    x.requires_grad_()
    labels = torch.arange(n) % 4
    # scores equal to the prediction make |y - p| = 0, where the slope of
    # |y - p|^beta is infinite for beta < 1
    scores = x.detach().float().sigmoid()[:, 0]
    loss = quality_focal_loss(x, (labels, scores), beta=beta)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_qfl_bad_labels_are_named():
    logits, labels, scores = qfl_inputs(dtype=torch.float32)
    labels[5] = 7
    with pytest.raises(ValueError, match=r'labels\[5\] = 7'):
        quality_focal_loss(logits, (labels, scores))
    with pytest.raises(ValueError, match='scores must have shape'):
        quality_focal_loss(logits, (labels.clamp(max=6), scores[:3]))


# -- DFL --------------------------------------------------------------------


def test_dfl_equals_autograd_of_the_formula():
    logits, target = dfl_inputs()
    weight = torch.rand(len(target), dtype=torch.float64)
    want = grads_of(lambda x: reference_dfl(x, target) * weight, logits)
    got = grads_of(
        lambda x: distribution_focal_loss(x, target, weight, reduction='none'),
        logits)
    assert_all_close(got, want, rtol=1e-10, atol=1e-12)


def test_dfl_gradcheck_float64():
    logits, target = dfl_inputs(m=8, bins=5, seed=1)
    x = logits.requires_grad_()
    weight = torch.rand(8, dtype=torch.float64)
    for reduction in ('none', 'sum', 'mean'):
        assert torch.autograd.gradcheck(
            lambda x: distribution_focal_loss(
                x, target, weight, reduction=reduction), (x, ))


@pytest.mark.parametrize('reduction,avg_factor',
                         [('none', None), ('mean', None), ('mean', 4.0),
                          ('sum', None)])
def test_dfl_matches_mmdet_float32(reduction, avg_factor):
    """mmdet's reg_max = 16: 17 bins, targets in [0, 16)."""
    from mmdet.models.losses.gfocal_loss import distribution_focal_loss as m
    logits, target = dfl_inputs(m=400, dtype=torch.float32)
    weight = torch.rand(400)
    kwargs = dict(reduction=reduction, avg_factor=avg_factor)
    want = grads_of(lambda x: m(x, target, weight, **kwargs), logits)
    got = grads_of(
        lambda x: distribution_focal_loss(x, target, weight, **kwargs), logits)
    assert_all_close(got, want, rtol=1e-5, atol=1e-7)


def test_dfl_bin_interval_scales_the_targets():
    logits, target = dfl_inputs(seed=2)
    for delta in (0.5, 2.0, 4.0):
        got = grads_of(
            lambda x: distribution_focal_loss(
                x, target * delta, delta=delta, reduction='none'), logits)
        want = grads_of(
            lambda x: distribution_focal_loss(x, target, reduction='none'),
            logits)
        assert_all_close(got, want)
    with pytest.raises(ValueError, match=r'outside \[0, 32.0\)'):
        distribution_focal_loss(logits, target * 0 + 33.0, delta=2.0)


def test_dfl_bin_count_conventions():
    """The bins are pred's columns. mmdet's reg_max = 16 means 17 bins
    (targets < 16); ultralytics' reg_max = 16 means 16 bins (targets < 15),
    the same loss on one bin less."""
    g = torch.Generator().manual_seed(3)
    ultralytics_logits = torch.randn(50, 16, generator=g, dtype=torch.float64)
    target = torch.rand(50, generator=g, dtype=torch.float64) * 14.99
    want = reference_dfl(ultralytics_logits, target)
    got = distribution_focal_loss(ultralytics_logits, target, reduction='none')
    torch.testing.assert_close(got, want)
    target[9] = 15.5  # fine with mmdet's 17 bins, not with 16
    distribution_focal_loss(torch.zeros(50, 17), target.float())
    with pytest.raises(ValueError, match=r'target\[9\] = 15.5 is outside'):
        distribution_focal_loss(ultralytics_logits, target)


@pytest.mark.parametrize('bad', [-0.5, 16.0, 20.0, float('nan')])
def test_dfl_out_of_range_targets_are_named(bad):
    logits, target = dfl_inputs(dtype=torch.float32)
    target[42] = bad
    with pytest.raises(ValueError, match=r'target\[42\] = '):
        distribution_focal_loss(logits, target)


def test_dfl_empty_and_zero_weight_give_attached_zeros():
    x = torch.zeros(0, 17, requires_grad=True)
    loss = distribution_focal_loss(x, torch.zeros(0))
    assert loss.item() == 0 and loss.requires_grad
    logits, target = dfl_inputs(dtype=torch.float32)
    logits.requires_grad_()
    loss = distribution_focal_loss(logits, target, torch.zeros(120))
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
def test_dfl_is_finite_on_extreme_logits(dtype):
    logits = torch.tensor([[-1e4, 1e4, 0.0], [6e4, -6e4, 6e4], [0.0, 0.0, 0.0]
                           ],
                          dtype=dtype).requires_grad_()
    loss = distribution_focal_loss(logits, torch.tensor([0.0, 1.5, 1.99]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad.dtype == dtype
