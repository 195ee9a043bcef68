"""Classification losses: CE / NLL / BCE against torch.nn.functional and
mmdet, Focal Loss against mmdet and against autograd of its formula, label
checks, robustness of the modulated BCE."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_references import one_hot_targets, reference_focal

from mmdet_losses.functional import (binary_cross_entropy, cross_entropy,
                                     focal_loss_with_prob, modulated_bce,
                                     nll_loss, precomputed_grad,
                                     sigmoid_focal_loss)


def grads_of(fn, *inputs):
    """``fn``'s value and the gradients of all inputs, with a non-uniform
    upstream gradient."""
    inputs = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*inputs)
    upstream = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype)
    (out.reshape(-1) * upstream).sum().backward()
    return [out.detach()] + [x.grad for x in inputs]


def assert_all_close(got, want, **kwargs):
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, **kwargs)


def logits_and_labels(n=64, c=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, c, generator=g) * 3).to(dtype)
    labels = torch.randint(0, c + 1, (n, ), generator=g)
    return logits, labels


# -- softmax cross-entropy and NLL: torch.nn.functional --------------------


@pytest.mark.parametrize('smoothing', [0.0, 0.1])
def test_cross_entropy_matches_torch(smoothing):
    logits, labels = logits_and_labels()
    labels = labels.clamp(max=4)
    labels[::7] = -100
    class_weight = torch.rand(5, dtype=torch.float64)
    for weight in (None, class_weight):
        want = grads_of(
            lambda x: F.cross_entropy(
                x,
                labels,
                weight=weight,
                reduction='none',
                label_smoothing=smoothing), logits)
        got = grads_of(
            lambda x: cross_entropy(
                x,
                labels,
                class_weight=weight,
                reduction='none',
                label_smoothing=smoothing), logits)
        assert_all_close(got, want)
    # mmdet's mean over the labels not ignored is torch's mean
    torch.testing.assert_close(
        cross_entropy(logits, labels, avg_non_ignore=True),
        F.cross_entropy(logits, labels))


def test_nll_of_log_softmax_is_cross_entropy():
    logits, labels = logits_and_labels(seed=1)
    labels = labels.clamp(max=4)
    want = grads_of(lambda x: F.nll_loss(x.log_softmax(1), labels), logits)
    got = grads_of(
        lambda x: nll_loss(x.log_softmax(1), labels, avg_non_ignore=True),
        logits)
    assert_all_close(got, want)
    torch.testing.assert_close(
        nll_loss(logits.log_softmax(1), labels, reduction='sum'),
        cross_entropy(logits, labels, reduction='sum'))
    # spatial inputs (N, C, H, W) pass through
    maps = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    target = torch.randint(0, 5, (2, 3, 3))
    torch.testing.assert_close(
        nll_loss(maps.log_softmax(1), target, reduction='none'),
        F.nll_loss(maps.log_softmax(1), target, reduction='none'))


def test_cross_entropy_and_bce_match_mmdet():
    from mmdet.models.losses import cross_entropy_loss as m
    logits, labels = logits_and_labels(dtype=torch.float32, seed=2)
    weight = torch.rand(len(labels))
    softmax_labels = labels.clamp(max=4)
    for kwargs in (dict(reduction='mean'),
                   dict(reduction='mean',
                        avg_factor=9.0), dict(reduction='sum'),
                   dict(reduction='none')):
        want = grads_of(
            lambda x: m.cross_entropy(x, softmax_labels, weight, **kwargs),
            logits)
        got = grads_of(
            lambda x: cross_entropy(x, softmax_labels, weight, **kwargs),
            logits)
        assert_all_close(got, want)
        want = grads_of(
            lambda x: m.binary_cross_entropy(x, labels, weight, **kwargs),
            logits)
        got = grads_of(
            lambda x: binary_cross_entropy(x, labels, weight, **kwargs),
            logits)
        assert_all_close(got, want)
    # soft targets of the same shape (ATSS's centerness), ignore_index
    soft = torch.rand(40)
    scores = torch.randn(40)
    assert_all_close(
        grads_of(lambda x: binary_cross_entropy(x, soft), scores),
        grads_of(lambda x: m.binary_cross_entropy(x, soft), scores))
    labels[::5] = -100
    assert_all_close(
        grads_of(
            lambda x: binary_cross_entropy(x, labels, avg_non_ignore=True),
            logits),
        grads_of(
            lambda x: m.binary_cross_entropy(
                x, labels, ignore_index=-100, avg_non_ignore=True), logits))


# -- Focal Loss -------------------------------------------------------------


@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.0, 3.5])
@pytest.mark.parametrize('alpha', [0.25, 0.6])
def test_focal_from_labels_equals_autograd_of_the_formula(gamma, alpha):
    logits, labels = logits_and_labels(seed=3)
    target = one_hot_targets(labels, 5)
    weight = torch.rand(len(labels), dtype=torch.float64)
    want = grads_of(
        lambda x: reference_focal(x, target, gamma, alpha) * weight[:, None],
        logits)
    got = grads_of(
        lambda x: sigmoid_focal_loss(
            x, labels, weight, gamma, alpha, reduction='none'), logits)
    assert_all_close(got, want, rtol=1e-10, atol=1e-12)
    # soft targets take the same formula
    soft = torch.rand_like(logits)
    want = grads_of(lambda x: reference_focal(x, soft, gamma, alpha), logits)
    got = grads_of(
        lambda x: sigmoid_focal_loss(
            x, soft, gamma=gamma, alpha=alpha, reduction='none'), logits)
    assert_all_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('gamma', [0.5, 2.0])
def test_focal_gradcheck_float64(gamma):
    logits, labels = logits_and_labels(n=6, c=4, seed=4)
    labels = labels.clamp(max=4)
    weight = torch.rand(6, dtype=torch.float64)
    x = logits.requires_grad_()
    for target in (labels, torch.rand(6, 4, dtype=torch.float64)):
        for reduction in ('none', 'sum'):
            assert torch.autograd.gradcheck(
                lambda x: sigmoid_focal_loss(
                    x, target, weight, gamma, reduction=reduction), (x, ))


@pytest.mark.parametrize('weight_shape', [None, 'rows', 'full', 'flat'])
@pytest.mark.parametrize('reduction,avg_factor',
                         [('none', None), ('mean', None), ('mean', 17.0),
                          ('sum', None)])
def test_focal_matches_mmdet_float32(weight_shape, reduction, avg_factor):
    from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss
    logits, labels = logits_and_labels(n=300, c=8, dtype=torch.float32)
    g = torch.Generator().manual_seed(5)
    weight = {
        None: None,
        'rows': torch.rand(300, generator=g),
        'full': torch.rand(300, 8, generator=g),
        'flat': torch.rand(2400, generator=g)
    }[weight_shape]
    kwargs = dict(reduction=reduction, avg_factor=avg_factor)
    target = one_hot_targets(labels, 8, dtype=torch.float32)
    want = grads_of(
        lambda x: py_sigmoid_focal_loss(x, target, weight, **kwargs), logits)
    got = grads_of(lambda x: sigmoid_focal_loss(x, labels, weight, **kwargs),
                   logits)
    assert_all_close(got, want, rtol=1e-5, atol=1e-7)


def test_focal_with_probabilities_matches_mmdet():
    from mmdet.models.losses.focal_loss import py_focal_loss_with_prob
    logits, labels = logits_and_labels(n=100, c=6, dtype=torch.float32)
    probs = logits.sigmoid()
    weight = torch.rand(100, 1)
    for target in (labels, torch.rand(100, 6)):
        want = grads_of(lambda p: py_focal_loss_with_prob(p, target, weight),
                        probs)
        got = grads_of(lambda p: focal_loss_with_prob(p, target, weight),
                       probs)
        assert_all_close(got, want)


def test_chunked_pass_equals_one_pass(monkeypatch):
    logits, labels = logits_and_labels(n=50, c=7, seed=6)
    weight = torch.rand(50, dtype=torch.float64)
    whole = grads_of(lambda x: sigmoid_focal_loss(x, labels, weight), logits)
    monkeypatch.setattr(precomputed_grad, 'CHUNK_ELEMENTS', 20)
    chunked = grads_of(lambda x: sigmoid_focal_loss(x, labels, weight), logits)
    assert_all_close(whole, chunked)


def test_modulated_bce_gradient_equals_autograd():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(500, generator=g, dtype=torch.float64) * 6
    t = torch.rand(500, generator=g, dtype=torch.float64)
    t[::4] = 0.0
    t[1::4] = 1.0
    for quality in (False, True):
        for gamma in (0.0, 0.5, 2.0):

            def formula(x):
                p = x.sigmoid()
                m = (t - p).abs() if quality else p + t - 2 * p * t
                return F.binary_cross_entropy_with_logits(
                    x, t, reduction='none') * m**gamma

            loss, grad = modulated_bce(x, t, gamma, None, quality, True)
            want = grads_of(formula, x)
            torch.testing.assert_close(loss, want[0])
            ones = torch.linspace(0.5, 1.5, 500, dtype=torch.float64)
            torch.testing.assert_close(grad * ones, want[1])
    for t_value in (0.0, 1.0):
        loss, grad = modulated_bce(x, t_value, 2.0, 0.25, False, True)
        dense_loss, dense_grad = modulated_bce(x, torch.full_like(x, t_value),
                                               2.0, 0.25, False, True)
        torch.testing.assert_close(loss, dense_loss)
        torch.testing.assert_close(grad, dense_grad)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from(
            [-1e4, -100., -30., -17., -1., 0., 1., 17., 30., 100., 1e4]),
        min_size=1,
        max_size=12), st.sampled_from([0.0, 0.5, 2.0]),
    st.sampled_from([torch.float32, torch.float16, torch.bfloat16]))
def test_focal_is_finite_on_saturated_logits(values, gamma, dtype):
    """Saturated sigmoids make the modulation 0; with gamma < 1 its slope
    is infinite there (autograd of the formula gives NaN)."""
    n = len(values)
    x = torch.tensor(values, dtype=dtype).reshape(n, 1).repeat(1, 3)
    x.requires_grad_()
    labels = torch.arange(n) % 4
    loss = sigmoid_focal_loss(x, labels, gamma=gamma, reduction='sum')
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_focal_empty_and_zero_weight_give_attached_zeros():
    x = torch.zeros(0, 4, requires_grad=True)
    for reduction in ('mean', 'sum'):
        loss = sigmoid_focal_loss(
            x, torch.zeros(0, dtype=torch.long), reduction=reduction)
        assert loss.item() == 0 and loss.requires_grad
    logits, labels = logits_and_labels(dtype=torch.float32)
    logits.requires_grad_()
    loss = sigmoid_focal_loss(logits, labels, torch.zeros(64))
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_bad_labels_are_named():
    logits, labels = logits_and_labels(dtype=torch.float32)
    labels[17] = 6
    with pytest.raises(ValueError, match=r'labels\[17\] = 6 .* 5 classes'):
        sigmoid_focal_loss(logits, labels)
    labels[17] = -1
    with pytest.raises(ValueError, match=r'labels\[17\] = -1'):
        sigmoid_focal_loss(logits, labels)
    with pytest.raises(TypeError, match='integer'):
        sigmoid_focal_loss(logits, labels.float())
    ce_labels = torch.zeros(64, dtype=torch.long)
    ce_labels[3] = 5  # softmax: 5 columns, labels 0..4
    with pytest.raises(ValueError, match=r'label\[3\] = 5'):
        cross_entropy(logits, ce_labels)
    ce_labels[3] = -100  # ignore_index is fine
    cross_entropy(logits, ce_labels)
    with pytest.raises(ValueError, match='shape'):
        sigmoid_focal_loss(logits, torch.zeros(64, 3))
    with pytest.raises(ValueError, match=r'weight of shape \(3,\)'):
        sigmoid_focal_loss(logits, labels.clamp(0, 5), torch.ones(3))
