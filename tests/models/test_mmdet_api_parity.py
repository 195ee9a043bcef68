"""Drop-in parity with mmdet 3.3: every loss module of this package that
shares a name with one of mmdet's takes the same arguments and gives the
same outcome on the same call (the same value and gradient within
tolerance, or the same exception type).

The scenarios re-express the behaviours mmdet's own suite checks for these
classes (tests/test_models/test_losses/test_loss.py, v3.3.0: zero weights,
reduction overrides, empty and N-D inputs, ``avg_factor`` with each
reduction, QFL's two target forms, ignore_index) and the cases of issue 16
(empty inputs with ``avg_factor`` and ``'sum'``, a dense Focal map with a
one-hot target). Each scenario runs once with mmdet's class and once with
ours, on the same seeded inputs, and the two records are compared step by
step.

Two deliberate differences are allowed, both checked:

* where mmdet averages an empty loss (``loss.mean()`` of nothing, NaN) this
  package returns a zero attached to the graph (see
  :mod:`mmdet_losses.functional.reduction`);
* under ``reduction='none'`` with a weight without a positive entry (all
  zero, or empty), mmdet's ``GIoULoss``, ``DIoULoss`` and ``CIoULoss`` take
  their zero-weight shortcut and return a scalar 0 (its ``IoULoss`` does
  not); ours return the per-box zeros ``(n,)``, as its ``IoULoss`` does:
  the shape ``'none'`` promises, and one that broadcasts wherever mmdet's
  scalar is used.
"""
import inspect
import warnings
from typing import Callable, List, NamedTuple, Optional

import mmdet.models.losses as mmdet_losses_pkg
import pytest
import torch
import torch.nn.functional as F

import mmdet_losses.models.losses as ours_pkg

SHARED = ('L1Loss', 'SmoothL1Loss', 'MSELoss', 'CrossEntropyLoss', 'FocalLoss',
          'QualityFocalLoss', 'DistributionFocalLoss', 'IoULoss', 'GIoULoss',
          'DIoULoss', 'CIoULoss')
IOU = ('IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss')
REGRESSION = IOU + ('MSELoss', 'L1Loss', 'SmoothL1Loss')
IMPLS = {
    'mmdet': lambda name: getattr(mmdet_losses_pkg, name),
    'ours': lambda name: getattr(ours_pkg, name),
}


def test_the_shared_names_are_every_loss_registered_under_an_mmdet_name():
    from mmdet.registry import MODELS as MMDET_MODELS

    import mmdet_losses
    from mmdet_losses.registry import MODELS
    mmdet_losses.register_all_modules(init_default_scope=False)
    losses = {
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('mmdet_losses.models.losses.')
    }
    assert losses & set(MMDET_MODELS.module_dict) == set(SHARED)


# -- signatures ---------------------------------------------------------------


def parameters(function):
    return {
        name: p
        for name, p in inspect.signature(function).parameters.items()
        if name != 'self'
    }


@pytest.mark.parametrize('name', SHARED)
@pytest.mark.parametrize('method', ['__init__', 'forward'])
def test_every_mmdet_argument_is_taken_in_place_with_its_default(name, method):
    theirs = parameters(getattr(IMPLS['mmdet'](name), method))
    ours = parameters(getattr(IMPLS['ours'](name), method))
    positional = [
        n for n, p in theirs.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    # mmdet's positional arguments come first, in mmdet's order
    assert list(ours)[:len(positional)] == positional
    for arg, p in theirs.items():
        if p.kind == p.VAR_KEYWORD:
            assert any(q.kind == q.VAR_KEYWORD for q in ours.values()), arg
            continue
        assert arg in ours, f'{name}.{method} lacks {arg!r}'
        assert ours[arg].default == p.default, arg
    # what we add is optional
    for arg, p in ours.items():
        if arg not in theirs and p.kind not in (p.VAR_KEYWORD,
                                                p.VAR_POSITIONAL):
            assert p.default is not p.empty, arg


@pytest.mark.parametrize('name', SHARED)
def test_every_public_attribute_of_mmdets_module_is_ours_too(name):
    """Heads and hooks read attributes of their losses (``use_sigmoid``,
    ``loss_weight``, ``activated``, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        theirs = IMPLS['mmdet'](name)()
        ours = IMPLS['ours'](name)()
    for key, value in vars(theirs).items():
        if key.startswith('_') or key == 'training':
            continue
        assert hasattr(ours, key), key
        if not callable(value):
            assert getattr(ours, key) == value, key


@pytest.mark.parametrize('cfg', [
    dict(),
    dict(use_sigmoid=True),
    dict(use_mask=True),
])
def test_cross_entropy_cls_criterion(cfg):
    """mmdet's ``CrossEntropyLoss.cls_criterion`` is the functional loss;
    ours, called the same way, gives the same value."""
    g = seeded()
    if cfg.get('use_mask'):
        args = (torch.randn(4, 3, 5, 5, generator=g),
                torch.rand(4, 5, 5, generator=g), torch.tensor([0, 2, 1, 1]))
        kwargs = dict(reduction='mean', avg_factor=None, class_weight=None)
    else:
        args = (torch.randn(6, 5,
                            generator=g), torch.tensor([0, 4, 2, 1, 3, 4]),
                torch.rand(6, generator=g))
        kwargs = dict(
            reduction='mean',
            avg_factor=4.,
            class_weight=torch.rand(5, generator=g),
            ignore_index=3,
            avg_non_ignore=False)
    values = [
        IMPLS[impl]('CrossEntropyLoss')(**cfg).cls_criterion(*args, **kwargs)
        for impl in ('ours', 'mmdet')
    ]
    torch.testing.assert_close(*values)


# -- outcomes -----------------------------------------------------------------


class Outcome(NamedTuple):
    step: str
    error: Optional[type] = None
    value: Optional[torch.Tensor] = None
    grad: Optional[torch.Tensor] = None
    empty: bool = False
    # reduction 'none' with a weight that has no positive entry
    none_without_positive: bool = False


class Recorder:
    """Builds one implementation's modules and records each call."""

    def __init__(self, impl: str):
        self.impl = impl
        self.outcomes: List[Outcome] = []

    def make(self, name: str, **cfg):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return IMPLS[self.impl](name)(**cfg)

    def call(self, step: str, module, pred, target, *args, **kwargs):
        """``module(pred, target, ...)``, its value and ``d sum / d pred``
        (for a floating ``pred``), or the type of the exception it
        raised."""
        x = pred.detach().clone()
        if x.is_floating_point():
            x.requires_grad_()
        empty = pred.numel() == 0
        weight = kwargs.get('weight', args[0] if args else None)
        reduction = kwargs.get('reduction_override') or getattr(
            module, 'reduction', None)
        none_without_positive = (
            reduction == 'none' and isinstance(weight, torch.Tensor)
            and not bool((weight > 0).any()))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                value = module(x, target, *args, **kwargs)
                grad = None
                if x.requires_grad and value.requires_grad:
                    grad, = torch.autograd.grad(
                        value.sum(), x, allow_unused=True)
        except Exception as error:  # noqa: B902 - the type is the outcome
            self.outcomes.append(Outcome(step, type(error), empty=empty))
            return
        self.outcomes.append(
            Outcome(step, None, value.detach(), grad, empty,
                    none_without_positive))

    def attempt(self, step: str, function: Callable[[], object]):
        """Record whether ``function()`` (a construction, a call) raises,
        and what."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                function()
        except Exception as error:  # noqa: B902 - the type is the outcome
            self.outcomes.append(Outcome(step, type(error)))
            return
        self.outcomes.append(Outcome(step, None, torch.zeros(())))

    def expect_raise(self, step, error, module, *args, **kwargs):
        """A step mmdet's suite requires to raise ``error``: recorded, and
        checked to raise it in both implementations."""
        self.call(step, module, *args, **kwargs)
        assert self.outcomes[-1].error is not None and issubclass(
            self.outcomes[-1].error, error), (self.impl, self.outcomes[-1])


def assert_same_outcomes(ours: List[Outcome], theirs: List[Outcome]):
    assert [o.step for o in ours] == [o.step for o in theirs]
    for a, b in zip(ours, theirs):
        if b.error is not None:
            assert a.error is not None and issubclass(a.error, b.error), (
                f'{a.step}: mmdet raises {b.error.__name__}, ours '
                f'{a.error.__name__ if a.error else "returns"}')
            continue
        assert a.error is None, f'{a.step}: ours raises {a.error}'
        if (b.none_without_positive and b.value.dim() == 0
                and a.value.dim() == 1):
            # mmdet's scalar shortcut; ours the per-box zeros
            assert b.value == 0 and (a.value == 0).all(), a.step
            continue
        assert a.value.shape == b.value.shape, a.step
        if b.empty and b.value.isnan().any():
            # mmdet's mean of nothing; ours is an attached zero
            assert (a.value == 0).all(), a.step
            continue
        torch.testing.assert_close(
            a.value.to(b.value.dtype),
            b.value,
            rtol=1e-5,
            atol=1e-6,
            msg=lambda m: f'{a.step}: {m}')
        if b.grad is not None and a.grad is not None:
            torch.testing.assert_close(
                a.grad,
                b.grad,
                rtol=1e-4,
                atol=1e-6,
                msg=lambda m: f'{a.step} (gradient): {m}')


def run_both(scenario: Callable[[Recorder], None], values: bool = True):
    """Run ``scenario`` with mmdet's classes and ours and compare the
    records; unless ``values`` is False, mmdet must return a value at some
    step (a scenario in which everything raises proves little)."""
    records = {}
    for impl in IMPLS:
        recorder = Recorder(impl)
        scenario(recorder)
        records[impl] = recorder.outcomes
    assert_same_outcomes(records['ours'], records['mmdet'])
    if values:
        assert any(o.error is None for o in records['mmdet'])
    return records


# -- mmdet's scenarios, re-expressed ------------------------------------------


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def boxes(shape, g):
    """Valid xyxy boxes (mmdet's suite feeds uniform noise; the IoU losses
    only promise a meaning on boxes)."""
    n = shape[0]
    xy = torch.rand(n, 2, generator=g) * 10
    return torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 10 + 0.5], 1)


@pytest.mark.parametrize('name', IOU)
def test_zero_weight_gives_zero(name):

    def scenario(r):
        g = seeded()
        pred = torch.rand(10, 4, generator=g)
        target = torch.rand(10, 4, generator=g)
        r.call('zero weight', r.make(name), pred, target, torch.zeros(10))
        assert r.outcomes[-1].value == 0

    run_both(scenario)


@pytest.mark.parametrize('name', SHARED)
def test_reduction_override_outside_the_four_is_an_assertion(name):

    def scenario(r):
        g = seeded()
        pred = torch.rand(10, 4, generator=g)
        # mmdet's suite passes a one-element tuple as the target: the
        # override is checked before the target is looked at
        target = (torch.rand(10, 4, generator=g), )
        r.expect_raise(
            'override True',
            AssertionError,
            r.make(name),
            pred,
            target,
            None,
            reduction_override=True)

    run_both(scenario, values=False)


@pytest.mark.parametrize('activated', [False, True])
def test_qfl_tuple_and_tensor_targets(activated):

    def scenario(r):
        g = seeded()
        pred = torch.rand(4, 5, generator=g)
        label = torch.tensor([0, 1, 2, 0])
        quality = torch.rand(4, generator=g)
        module = r.make('QualityFocalLoss', activated=activated)
        r.call('tuple target', module, pred, (label, quality))
        r.call('tensor target', module, pred,
               F.one_hot(label, 5) * quality[:, None])
        tuple_value, tensor_value = r.outcomes[-2].value, r.outcomes[-1].value
        torch.testing.assert_close(tuple_value, tensor_value)

    run_both(scenario)


def avg_factor_steps(r, name, pred, target, cfg=None):
    """The calls mmdet's suite makes of a loss with ``avg_factor``."""
    cfg = cfg or {}
    r.call('plain', r.make(name, **cfg), pred, target)
    r.call(
        'override mean',
        r.make(name, **cfg),
        pred,
        target,
        reduction_override='mean')
    r.call('avg_factor', r.make(name, **cfg), pred, target, avg_factor=10)
    r.expect_raise(
        'avg_factor with sum',
        ValueError,
        r.make(name, **cfg),
        pred,
        target,
        avg_factor=10,
        reduction_override='sum')
    for override in (None, 'none', 'mean'):
        r.call(
            f'avg_factor, override {override}',
            r.make(name, **cfg),
            pred,
            target,
            avg_factor=10,
            reduction_override=override)


@pytest.mark.parametrize('name', REGRESSION)
@pytest.mark.parametrize('shape', [(10, 4), (0, 4)], ids=['10x4', 'empty'])
def test_regression_losses(name, shape):

    def scenario(r):
        g = seeded()
        if name in IOU:
            pred, target = boxes(shape, g), boxes(shape, g)
        else:
            pred = torch.rand(shape, generator=g)
            target = torch.rand(shape, generator=g)
        weight = torch.rand(shape, generator=g)
        r.call('weight', r.make(name), pred, target, weight)
        r.call(
            'weight, sum',
            r.make(name),
            pred,
            target,
            weight,
            reduction_override='sum')
        avg_factor_steps(r, name, pred, target)

    run_both(scenario)


@pytest.mark.parametrize('shape', [(10, 5), (0, 5)], ids=['10x5', 'empty'])
def test_cross_entropy(shape):

    def scenario(r):
        g = seeded()
        pred = torch.rand(shape, generator=g)
        target = torch.randint(0, 5, shape[:1], generator=g)
        avg_factor_steps(r, 'CrossEntropyLoss', pred, target)

    run_both(scenario)


@pytest.mark.parametrize(
    'shape', [(10, 5), (3, 5, 40, 40)], ids=['labels', 'one-hot map'])
@pytest.mark.parametrize('activated', [False, True])
def test_focal_loss(shape, activated):

    def scenario(r):
        g = seeded()
        pred = torch.rand(shape, generator=g)
        if len(shape) == 2:
            target = torch.randint(0, 5, shape[:1], generator=g)
        else:
            b, c, h, w = shape
            target = F.one_hot(
                torch.randint(0, c, (b * h * w, ), generator=g),
                c).reshape(b, h, w, c).permute(0, 3, 1, 2)
        avg_factor_steps(r, 'FocalLoss', pred, target,
                         dict(activated=activated))

    run_both(scenario)


@pytest.mark.parametrize('use_sigmoid', [True, False])
@pytest.mark.parametrize('reduction', ['sum', 'mean', None])
@pytest.mark.parametrize('avg_non_ignore', [True, False])
def test_cross_entropy_ignore_index(use_sigmoid, reduction, avg_non_ignore):

    def scenario(r):
        g = seeded()
        module = r.make(
            'CrossEntropyLoss',
            use_sigmoid=use_sigmoid,
            ignore_index=255,
            avg_non_ignore=avg_non_ignore)
        pred = torch.rand(10, 5, generator=g)
        target = torch.randint(0, 5, (10, ), generator=g)
        target[torch.randint(0, 10, (2, ), generator=g)] = 255
        r.call('ignore', module, pred, target, reduction_override=reduction)
        r.call(
            'ignore in forward',
            module,
            pred,
            target,
            ignore_index=255,
            reduction_override=reduction)
        kept = target != 255
        r.call(
            'ignored removed',
            module,
            pred[kept],
            target[kept],
            reduction_override=reduction)
        if avg_non_ignore:
            # the mean over the labels kept is that of the kept labels
            torch.testing.assert_close(r.outcomes[0].value,
                                       r.outcomes[2].value)
        r.call(
            'all ignored',
            module,
            torch.rand(10, 5, generator=g),
            torch.full((10, ), 255),
            reduction_override=reduction)
        assert r.outcomes[-1].value == 0

    run_both(scenario)


# -- issue 16: every argument, empty and N-D inputs ---------------------------

CLASSIFICATION_CONFIGS = [
    ('CrossEntropyLoss', dict()),
    ('CrossEntropyLoss', dict(use_sigmoid=True)),
    ('CrossEntropyLoss', dict(class_weight=[1., 2., 3., 1., .5])),
    ('CrossEntropyLoss',
     dict(use_sigmoid=True, class_weight=[1., 2., 3., 1., .5])),
    ('CrossEntropyLoss', dict(ignore_index=3, avg_non_ignore=True)),
    ('CrossEntropyLoss', dict(reduction='sum', loss_weight=2.)),
    ('FocalLoss', dict(gamma=1.5, alpha=0.4, loss_weight=.5)),
    ('FocalLoss', dict(gamma=0.0, reduction='sum')),
    ('FocalLoss', dict(activated=True)),
    ('QualityFocalLoss', dict(beta=1.0, loss_weight=2.)),
    ('QualityFocalLoss', dict(activated=True, reduction='sum')),
]


def classification_inputs(name, cfg, n, g):
    logits = torch.randn(n, 5, generator=g) * 2
    labels = torch.randint(
        0, 6 if name != 'CrossEntropyLoss' else 5, (n, ), generator=g)
    if cfg.get('activated'):
        logits = logits.sigmoid()
    if name == 'QualityFocalLoss':
        return logits, (labels, torch.rand(n, generator=g))
    return logits, labels


@pytest.mark.parametrize(
    'name, cfg', CLASSIFICATION_CONFIGS, ids=lambda x: str(x))
@pytest.mark.parametrize('n', [12, 0], ids=['12', 'empty'])
def test_classification_arguments(name, cfg, n):

    def scenario(r):
        g = seeded()
        pred, target = classification_inputs(name, cfg, n, g)
        weight = torch.rand(n, generator=g)
        module = r.make(name, **cfg)
        r.call('plain', module, pred, target)
        r.call('weight', module, pred, target, weight)
        for override in ('none', 'mean', 'sum'):
            r.call(
                f'weight, {override}',
                module,
                pred,
                target,
                weight,
                reduction_override=override)
        r.call('avg_factor', module, pred, target, weight, avg_factor=7.)
        r.call('avg_factor 0', module, pred, target, weight, avg_factor=0)
        r.call(
            'avg_factor tensor',
            module,
            pred,
            target,
            weight,
            avg_factor=torch.tensor(7.))
        r.call(
            'avg_factor, sum',
            module,
            pred,
            target,
            weight,
            avg_factor=7.,
            reduction_override='sum')

    run_both(scenario)


@pytest.mark.parametrize('name', ['FocalLoss', 'QualityFocalLoss'])
@pytest.mark.parametrize('activated', [False, True])
@pytest.mark.parametrize('shape', [(2, 4, 5, 3), (7, 4)], ids=['map', 'rows'])
def test_soft_targets(name, activated, shape):
    """Targets of the prediction's shape, rows ``(N, C)`` or a dense map
    ``(N, C, H, W)``: mmdet computes them element-wise (and QFL sums over
    C)."""

    def scenario(r):
        g = seeded()
        pred = torch.randn(shape, generator=g)
        if activated:
            pred = pred.sigmoid()
        target = torch.rand(shape, generator=g)
        target = torch.where(target > 0.7, target, torch.zeros(()))
        module = r.make(name, activated=activated)
        for override in ('none', 'mean', 'sum'):
            r.call(
                f'{override}',
                module,
                pred,
                target,
                reduction_override=override)
        r.call('avg_factor', module, pred, target, avg_factor=5.)
        per_location = shape[:1] + shape[2:]
        if name == 'FocalLoss':
            weights = [torch.rand(shape, generator=g)]
        else:  # summed over C: one per location, or broadcast
            weights = [torch.rand(per_location, generator=g)]
            if len(shape) > 2:
                weights.append(torch.rand(2, 5, 1, generator=g))
        for weight in weights:
            size = tuple(weight.shape)
            r.call(f'weight {size}', module, pred, target, weight)
            r.call(
                f'weight {size}, none',
                module,
                pred,
                target,
                weight,
                reduction_override='none')

    run_both(scenario)


@pytest.mark.parametrize('activated', [False, True])
def test_focal_one_logit_per_sample(activated):

    def scenario(r):
        g = seeded()
        pred = torch.randn(7, generator=g)
        if activated:
            pred = pred.sigmoid()
        target = (torch.rand(7, generator=g) > 0.5).float()
        module = r.make('FocalLoss', activated=activated)
        weight = torch.rand(7, generator=g)
        for override in ('none', 'mean', 'sum'):
            r.call(
                override,
                module,
                pred,
                target,
                weight,
                reduction_override=override)
        r.call('avg_factor', module, pred, target, avg_factor=3.)

    run_both(scenario)


@pytest.mark.parametrize('n', [8, 0], ids=['8', 'empty'])
def test_dfl(n):

    def scenario(r):
        g = seeded()
        pred = torch.randn(n, 17, generator=g)
        target = torch.rand(n, generator=g) * 15.9
        weight = torch.rand(n, generator=g)
        module = r.make('DistributionFocalLoss', loss_weight=0.25)
        r.call('plain', module, pred, target)
        for override in ('none', 'mean', 'sum'):
            r.call(
                f'weight, {override}',
                module,
                pred,
                target,
                weight,
                reduction_override=override)
        r.call('avg_factor', module, pred, target, weight, avg_factor=3.)
        r.call(
            'avg_factor, sum',
            module,
            pred,
            target,
            weight,
            avg_factor=3.,
            reduction_override='sum')

    run_both(scenario)


BOX_CONFIGS = [
    ('IoULoss', dict()),
    ('IoULoss', dict(linear=True)),
    ('IoULoss', dict(mode='square', eps=1e-3)),
    ('GIoULoss', dict(eps=1e-4, loss_weight=2.)),
    ('DIoULoss', dict(reduction='sum')),
    ('CIoULoss', dict(reduction='none')),
    ('L1Loss', dict(loss_weight=3.)),
    ('SmoothL1Loss', dict(beta=1 / 9, reduction='sum')),
    ('MSELoss', dict(loss_weight=.5)),
]


@pytest.mark.parametrize('name, cfg', BOX_CONFIGS, ids=lambda x: str(x))
@pytest.mark.parametrize('n', [9, 0], ids=['9', 'empty'])
def test_box_arguments(name, cfg, n):

    def scenario(r):
        g = seeded(3)
        pred, target = boxes((n, ), g), boxes((n, ), g)
        weight = torch.rand(n, generator=g)
        box_weight = torch.rand(n, 4, generator=g)
        module = r.make(name, **cfg)
        r.call('plain', module, pred, target)
        r.call('weight (n, 4)', module, pred, target, box_weight)
        if name in IOU:
            r.call('weight (n,)', module, pred, target, weight)
        some_zero = box_weight.clone()
        some_zero[::2] = 0
        r.call('some zero weights', module, pred, target, some_zero)
        r.call('all zero weights', module, pred, target,
               torch.zeros_like(box_weight))
        for override in ('none', 'mean', 'sum'):
            r.call(
                f'{override}',
                module,
                pred,
                target,
                box_weight,
                reduction_override=override)
            r.call(
                f'all zero, {override}',
                module,
                pred,
                target,
                torch.zeros_like(box_weight),
                reduction_override=override)
        r.call('avg_factor', module, pred, target, box_weight, avg_factor=4.)
        r.call(
            'avg_factor tensor',
            module,
            pred,
            target,
            box_weight,
            avg_factor=torch.tensor(4.))
        r.call(
            'avg_factor, sum',
            module,
            pred,
            target,
            box_weight,
            avg_factor=4.,
            reduction_override='sum')
        r.call(
            'all zero, avg_factor, sum',
            module,
            pred,
            target,
            torch.zeros_like(box_weight),
            avg_factor=4.,
            reduction_override='sum')

    run_both(scenario)


@pytest.mark.parametrize('name', ['IoULoss', 'GIoULoss'])
def test_box_batches(name):
    """Boxes ``(B, n, 4)``: mmdet's ``bbox_overlaps`` is batched."""

    def scenario(r):
        g = seeded(5)
        pred = boxes((6, ), g).reshape(2, 3, 4)
        target = boxes((6, ), g).reshape(2, 3, 4)
        module = r.make(name)
        r.call('plain', module, pred, target)
        box_weight = torch.rand(2, 3, 4, generator=g)
        for override in ('none', 'mean', 'sum'):
            r.call(
                override,
                module,
                pred,
                target,
                box_weight,
                reduction_override=override)
        r.call('weight (B, n) is not pred-shaped', module, pred, target,
               torch.rand(2, 3, generator=g))

    run_both(scenario)


@pytest.mark.parametrize('name', ['DIoULoss', 'CIoULoss'])
def test_box_batches_where_mmdet_takes_rows_only(name):
    """mmdet's DIoU and CIoU index ``pred[:, :2]`` (an IndexError on
    ``(B, n, 4)``); ours take the batch as its rows."""
    g = seeded(5)
    pred = boxes((6, ), g).reshape(2, 3, 4)
    target = boxes((6, ), g).reshape(2, 3, 4)
    ours = IMPLS['ours'](name)(reduction='none')
    theirs = IMPLS['mmdet'](name)(reduction='none')
    with pytest.raises(IndexError):
        theirs(pred, target)
    torch.testing.assert_close(
        ours(pred, target),
        theirs(pred.reshape(-1, 4), target.reshape(-1, 4)).reshape(2, 3))


@pytest.mark.parametrize('name', ['L1Loss', 'SmoothL1Loss', 'MSELoss'])
def test_regression_n_d(name):

    def scenario(r):
        g = seeded()
        pred = torch.randn(2, 3, 4, 5, generator=g)
        target = torch.randn(2, 3, 4, 5, generator=g)
        module = r.make(name)
        for override in ('none', 'mean', 'sum'):
            r.call(
                override,
                module,
                pred,
                target,
                torch.rand(2, 3, 4, 5, generator=g),
                reduction_override=override)
        r.call('avg_factor', module, pred, target, avg_factor=6.)

    run_both(scenario)


def test_mask_cross_entropy():

    def scenario(r):
        g = seeded()
        pred = torch.randn(6, 3, 7, 7, generator=g)
        target = torch.rand(6, 7, 7, generator=g)
        label = torch.randint(0, 3, (6, ), generator=g)
        module = r.make('CrossEntropyLoss', use_mask=True)
        # mmdet's FCNMaskHead passes the RoI labels in the weight's place
        r.call('mask', module, pred, target, label)
        r.call('mask, weighted',
               r.make('CrossEntropyLoss', use_mask=True, loss_weight=2.), pred,
               target, label)
        r.call('mask, label keyword', module, pred, target, None, label=label)

    run_both(scenario)


def test_cross_entropy_on_maps():
    """Softmax CE of a segmentation-like map, labels (N, H, W)."""

    def scenario(r):
        g = seeded()
        pred = torch.randn(2, 5, 4, 4, generator=g)
        target = torch.randint(0, 5, (2, 4, 4), generator=g)
        module = r.make('CrossEntropyLoss')
        for override in ('none', 'mean', 'sum'):
            r.call(override, module, pred, target, reduction_override=override)
        r.call('weight', module, pred, target,
               torch.rand(2, 4, 4, generator=g))

    run_both(scenario)


def test_sigmoid_cross_entropy_with_targets_of_the_prediction_shape():

    def scenario(r):
        g = seeded()
        pred = torch.randn(6, 4, generator=g)
        target = (torch.rand(6, 4, generator=g) > 0.5).float()
        module = r.make('CrossEntropyLoss', use_sigmoid=True)
        r.call('targets', module, pred, target)
        r.call('targets, weight', module, pred, target,
               torch.rand(6, 4, generator=g))

    run_both(scenario)


@pytest.mark.parametrize(
    'name, cfg', [
        ('QualityFocalLoss', dict()),
        ('QualityFocalLoss', dict(activated=True)),
        ('CrossEntropyLoss', dict(use_sigmoid=True)),
        ('CrossEntropyLoss', dict(use_sigmoid=True, avg_non_ignore=True)),
        ('CrossEntropyLoss',
         dict(use_sigmoid=True, ignore_index=255, avg_non_ignore=True)),
    ],
    ids=str)
def test_negative_labels(name, cfg):
    """mmdet's QFL reads a negative label as background, its sigmoid
    cross-entropy ignores it."""

    def scenario(r):
        g = seeded()
        pred = torch.randn(8, 5, generator=g)
        if cfg.get('activated'):
            pred = pred.sigmoid()
        labels = torch.tensor([0, -1, 2, 5, -7, 3, 5, 1])
        target = labels
        if name == 'QualityFocalLoss':
            target = (labels, torch.rand(8, generator=g))
        module = r.make(name, **cfg)
        for override in ('none', 'mean', 'sum'):
            r.call(override, module, pred, target, reduction_override=override)
        r.call('weight', module, pred, target, torch.rand(8, generator=g))

    run_both(scenario)


@pytest.mark.parametrize('activated', [False, True])
def test_focal_negative_labels_are_background(activated):
    """mmdet's Focal on CUDA (mmcv's op) reads a negative label as
    background; its CPU path crashes in ``one_hot``. Ours: background on
    every device, the value of mmdet's loss with the label ``C``."""
    g = seeded()
    pred = torch.randn(6, 5, generator=g)
    if activated:
        pred = pred.sigmoid()
    labels = torch.tensor([0, -1, 2, 5, -3, 1])
    ours = IMPLS['ours']('FocalLoss')(activated=activated)
    theirs = IMPLS['mmdet']('FocalLoss')(activated=activated)
    torch.testing.assert_close(
        ours(pred, labels, reduction_override='none'),
        theirs(
            pred, labels.masked_fill(labels < 0, 5),
            reduction_override='none'))


# -- the errors mmdet raises on purpose ---------------------------------------

BOXES = torch.tensor([[0., 0., 2., 2.], [1., 1., 4., 3.]])
ARGUMENT_ERRORS = {
    'Focal use_sigmoid=False':
    lambda r: r.make('FocalLoss', use_sigmoid=False),
    'QFL use_sigmoid=False':
    lambda r: r.make('QualityFocalLoss', use_sigmoid=False),
    'CE use_sigmoid and use_mask':
    lambda r: r.make('CrossEntropyLoss', use_sigmoid=True, use_mask=True),
    'IoU unknown mode':
    lambda r: r.make('IoULoss', mode='cubic'),
    # mmdet asserts in forward, ours already in __init__
    'SmoothL1 beta=0':
    lambda r: r.make('SmoothL1Loss', beta=0)(torch.ones(2), torch.ones(2)),
    'SmoothL1 beta<0':
    lambda r: r.make('SmoothL1Loss', beta=-1.)(torch.ones(2), torch.ones(2)),
    'Focal map, weight of no fitting shape':
    lambda r: r.make('FocalLoss')
    (torch.zeros(2, 5, 3, 3), torch.zeros(2, 5, 3, 3), torch.ones(2, 5)),
}

ARGUMENT_ERRORS.update({
    'Focal weight of no fitting shape':
    lambda r: r.make('FocalLoss')
    (torch.zeros(4, 5), torch.zeros(4, dtype=torch.long), torch.ones(3)),
    'L1 pred and target shapes differ':
    lambda r: r.make('L1Loss')(torch.ones(6, 4), torch.ones(3, 4)),
    'SmoothL1 pred and target shapes differ':
    lambda r: r.make('SmoothL1Loss')(torch.ones(6, 4), torch.ones(6, 2)),
    'QFL target tuple of 3':
    lambda r: r.make('QualityFocalLoss')
    (torch.zeros(4, 5),
     (torch.zeros(4, dtype=torch.long), torch.ones(4), torch.ones(4))),
    'QFL tensor target of another shape':
    lambda r: r.make('QualityFocalLoss')(torch.zeros(4, 5), torch.zeros(4, 3)),
    'mask CE with reduction sum':
    lambda r: r.make('CrossEntropyLoss', use_mask=True)
    (torch.zeros(2, 3, 4, 4),
     torch.zeros(2, 4, 4),
     torch.tensor([0, 1]),
     reduction_override='sum'),
    'mask CE with avg_factor':
    lambda r: r.make('CrossEntropyLoss', use_mask=True)
    (torch.zeros(2, 3, 4, 4),
     torch.zeros(2, 4, 4),
     torch.tensor([0, 1]),
     avg_factor=2.),
    'mask CE with ignore_index':
    lambda r: r.make('CrossEntropyLoss', use_mask=True, ignore_index=255)
    (torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4), torch.tensor([0, 1])),
})


def box_weight_of_wrong_shape(name):
    return lambda r: r.make(name)(BOXES, BOXES, torch.ones(2, 2))


ARGUMENT_ERRORS.update({
    f'{name} weight (n, 2) of (n, 4) boxes':
    box_weight_of_wrong_shape(name)
    for name in IOU
})


@pytest.mark.parametrize('case', list(ARGUMENT_ERRORS))
def test_argument_errors_are_mmdets(case):
    """mmdet rejects these with an assert; ours raise a LossArgumentError,
    a ValueError with a message that is also an AssertionError."""
    records = run_both(
        lambda r: r.attempt(case, lambda: ARGUMENT_ERRORS[case](r)),
        values=False)
    assert records['mmdet'][0].error is AssertionError
    assert issubclass(records['ours'][0].error, ValueError)
