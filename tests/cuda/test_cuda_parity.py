"""Every loss of this package, DIoU-NMS, PrunedRBboxOverlaps2D and
CircularSmoothLabelCoder on CUDA.

Inputs are built on the CPU from seeded generators and copied to the
device. On the device each loss must give the value and the gradient it
gives on the CPU (float32 tolerances), and the value and gradient of the
same-named class of mmdet (or mmrotate) on the same device: there mmdet's
``FocalLoss`` with integer labels runs mmcv's CUDA ``sigmoid_focal_loss``
op, and mmrotate's ``RotatedIoULoss`` mmcv's CUDA ``diff_iou_rotated_2d``.
DIoU-NMS through ``mmcv.ops.batched_nms`` keeps the same boxes as on the
CPU, ``PrunedRBboxOverlaps2D`` gives mmrotate's matrix (both through mmcv's
CUDA ``box_iou_rotated``), and float16 boxes give finite losses and
gradients close to float32.

The device is chosen once, here: CUDA where ``torch.cuda.is_available()``,
else the whole module is skipped ('needs CUDA'). With
``MMDET_LOSSES_TEST_DEVICE=cpu`` in the environment the "device" is the CPU:
a dry run that executes every code path of this file on a machine without
a GPU. The device side then runs this package's torch implementations
(``native.disabled()``), the ones CUDA runs, against the CPU reference
computed with the compiled CPU kernels; only the comparisons whose
reference exists on CUDA alone are skipped. ``tools/gpu_check.sh`` runs
this module on a GPU.
"""
import importlib
import math
import os
from contextlib import nullcontext
from functools import partial
from typing import NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmdet_losses.models.losses as ours
from mmdet_losses.functional import native
from mmdet_losses.functional.yolov1 import yolov1_encode_targets

DEVICE_ENV = 'MMDET_LOSSES_TEST_DEVICE'
if os.environ.get(DEVICE_ENV, '').strip().lower() == 'cpu':
    DEVICE = torch.device('cpu')
elif torch.cuda.is_available():
    DEVICE = torch.device('cuda')
else:
    pytest.skip('needs CUDA', allow_module_level=True)
ON_CUDA = DEVICE.type == 'cuda'
needs_real_cuda = pytest.mark.skipif(
    not ON_CUDA, reason='the reference is a CUDA-only mmcv op')

# float32 on two devices: the same formulas, other rounding and summation
# orders (CUDA's atan, log and fused multiply-adds differ by a few ulps)
VALUE_TOL = dict(rtol=1e-4, atol=1e-6)
GRAD_TOL = dict(rtol=1e-4, atol=1e-6)
# against mmcv's CUDA ops, whose float32 formulas lose digits that ours
# keep: sigmoid_focal_loss takes log(1 - p) of p = sigmoid(x), which for
# x = 11.8 is 5.5e-4 off (relative; ours agrees with float64 there), and
# diff_iou_rotated_2d sums the shoelace terms of uncentred corners. Both
# formulas re-run on the CPU in float32 (the sorting of diff_iou_rotated's
# CUDA op redone in Python) differ from ours on these cases by at most
# 3.6e-3 at a loss of 6.5 (focal) and 4.5e-6 absolute (rotated IoU).
CUDA_OP_TOL = dict(rtol=2e-3, atol=1e-5)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def to_device(x, device):
    """Tensors (inside tuples, lists and named tuples too) on ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, tuple) and hasattr(x, '_fields'):
        return type(x)(*(to_device(v, device) for v in x))
    if isinstance(x, (tuple, list)):
        return type(x)(to_device(v, device) for v in x)
    return x


def evaluate(module,
             pred,
             target,
             call,
             device=None,
             dtype=None,
             forward_context=nullcontext,
             cotangent_seed=1):
    """``module(pred, target, **call)``: the loss and the gradient of
    ``sum(cotangent * loss)`` with respect to ``pred`` (a seeded random
    cotangent of the loss's shape), both back on the CPU.

    ``device=None`` is the device under test, where the package's torch
    implementations run (those CUDA runs; ``native.disabled()`` changes
    nothing on CUDA and makes the CPU dry run take the same path); the
    CPU reference (``device='cpu'``) uses the package's defaults, the
    compiled CPU kernels included. The forward runs inside
    ``forward_context()``, the backward outside it (as mmengine's
    ``AmpOptimWrapper`` runs them).
    """
    under_test = device is None
    device = DEVICE if under_test else torch.device(device)
    x = pred.to(device, dtype or pred.dtype).detach().requires_grad_()
    target, call = to_device(target, device), to_device(call, device)
    with forward_context():
        if under_test:
            with native.disabled():
                loss = module(x, target, **call)
        else:
            loss = module(x, target, **call)
    assert loss.device.type == device.type
    cotangent = torch.rand(
        loss.shape, generator=seeded(cotangent_seed)).to(device, loss.dtype)
    grad, = torch.autograd.grad(loss, x, cotangent)
    assert grad.dtype == x.dtype
    return loss.detach().cpu(), grad.cpu()


# -- the losses and their inputs ----------------------------------------------


def xyxy_boxes(n, gen, extent=100.0):
    xy = torch.rand(n, 2, generator=gen) * extent
    wh = torch.rand(n, 2, generator=gen) * 50 + 1
    return torch.cat([xy, xy + wh], 1)


def rboxes(n, gen):
    """Rotated target boxes ``(cx, cy, w, h, t)`` and predictions near
    them (sizes 8 to 48 pixels: small pixel windows for PIoU)."""
    size = 8 + torch.rand(n, 2, generator=gen) * 40
    target = torch.cat((100 + torch.rand(n, 2, generator=gen) * 50, size,
                        (torch.rand(n, 1, generator=gen) - 0.5) * math.pi), 1)
    pred = target + torch.randn(
        n, 5, generator=gen) * torch.tensor([3., 3., 3., 3., 0.2])
    pred[:, 2:4] = pred[:, 2:4].abs() + 1
    return pred, target


def box_case(n=64):
    gen = seeded(0)
    pred, target = xyxy_boxes(n, gen), xyxy_boxes(n, gen)
    target[::2] = pred[::2] + torch.randn(n // 2, 4, generator=gen) * 3
    return pred, target, torch.rand(n, generator=gen)


def regression_case(n=64):
    gen = seeded(0)
    return (torch.randn(n, 4, generator=gen), torch.randn(n, 4, generator=gen),
            torch.rand(n, 4, generator=gen))


def logits_and_labels(n=64, classes=6, seed=0):
    gen = seeded(seed)
    logits = torch.randn(n, classes, generator=gen) * 3
    # 0 .. classes: ``classes`` is the background of the sigmoid losses
    labels = torch.randint(0, classes + 1, (n, ), generator=gen)
    return logits, labels, torch.rand(n, generator=gen), gen


def softmax_ce_case():
    logits, labels, weight, _ = logits_and_labels()
    return logits, labels.clamp(max=5), weight


def labels_case():
    return logits_and_labels()[:3]


def one_hot_case():
    logits, labels, weight, _ = logits_and_labels()
    return logits, F.one_hot(labels, 7)[:, :6].float(), weight


def nll_case():
    logits, labels, weight, _ = logits_and_labels()
    return logits.log_softmax(1), labels.clamp(max=5), weight


def qfl_case():
    logits, labels, weight, gen = logits_and_labels()
    return logits, (labels, torch.rand(len(labels), generator=gen)), weight


def dfl_case(n=64, bins=17):
    gen = seeded(0)
    return (torch.randn(n, bins, generator=gen) * 2,
            torch.rand(n, generator=gen) * (bins - 1) * 0.999,
            torch.rand(n, generator=gen))


def yolov1_case(images=3, grid=4, classes=3, size=64):
    gen = seeded(0)
    boxes, labels = [], []
    for k in (2, 0, 3)[:images]:
        xy = torch.rand(k, 2, generator=gen) * (size - 20)
        wh = 4 + torch.rand(k, 2, generator=gen) * 15
        boxes.append(torch.cat([xy, xy + wh], 1))
        labels.append(torch.randint(0, classes, (k, ), generator=gen))
    # the loss takes activated outputs in [0, 1]
    pred = torch.rand(images, grid, grid, 10 + classes, generator=gen)
    gt = (boxes, labels, grid, classes, (size, size))
    target = yolov1_encode_targets(*gt)
    return pred, target, torch.rand(images, generator=gen), gt


def rbox_case(n=16):
    gen = seeded(0)
    pred, target = rboxes(n, gen)
    return pred, target, torch.rand(n, generator=gen)


def mmdet_class(name):
    return lambda **kw: getattr(
        importlib.import_module('mmdet.models.losses'), name)(**kw)


def mmrotate_rotated_iou(**kw):
    from mmrotate.models.losses import RotatedIoULoss
    return RotatedIoULoss(**kw)


class Case(NamedTuple):
    ours: type
    kwargs: dict
    inputs: callable
    # mmdet's (or mmrotate's) same-named class on the same device, if any
    reference: callable = None
    # the reference runs on CUDA only (an mmcv op without a CPU kernel)
    reference_cuda_only: bool = False
    # on CUDA the reference is an mmcv float32 op (CUDA_OP_TOL)
    reference_cuda_op: bool = False


CASES = {
    'L1':
    Case(ours.L1Loss, dict(loss_weight=2.0), regression_case,
         mmdet_class('L1Loss')),
    'SmoothL1':
    Case(ours.SmoothL1Loss, dict(beta=1 / 9), regression_case,
         mmdet_class('SmoothL1Loss')),
    'MSE':
    Case(ours.MSELoss, {}, regression_case, mmdet_class('MSELoss')),
    'CE-softmax':
    Case(ours.CrossEntropyLoss, dict(class_weight=[1, 2, 3, 1, 1, 0.5]),
         softmax_ce_case, mmdet_class('CrossEntropyLoss')),
    'CE-sigmoid':
    Case(ours.CrossEntropyLoss, dict(use_sigmoid=True), labels_case,
         mmdet_class('CrossEntropyLoss')),
    'NLL':
    Case(ours.NLLLoss, {}, nll_case),
    # integer labels: mmdet's FocalLoss runs mmcv's sigmoid_focal_loss op on
    # CUDA (its Python formula on the CPU)
    'Focal-labels':
    Case(
        ours.FocalLoss,
        dict(gamma=1.5, alpha=0.4),
        labels_case,
        mmdet_class('FocalLoss'),
        reference_cuda_op=True),
    'Focal-one-hot':
    Case(ours.FocalLoss, {}, one_hot_case, mmdet_class('FocalLoss')),
    'QFL':
    Case(ours.QualityFocalLoss, dict(loss_weight=0.5), qfl_case,
         mmdet_class('QualityFocalLoss')),
    'DFL':
    Case(ours.DistributionFocalLoss, dict(loss_weight=0.25), dfl_case,
         mmdet_class('DistributionFocalLoss')),
    'IoU':
    Case(ours.IoULoss, {}, box_case, mmdet_class('IoULoss')),
    'IoU-square':
    Case(ours.IoULoss, dict(mode='square'), box_case, mmdet_class('IoULoss')),
    'GIoU':
    Case(ours.GIoULoss, dict(loss_weight=2.0), box_case,
         mmdet_class('GIoULoss')),
    'DIoU':
    Case(ours.DIoULoss, {}, box_case, mmdet_class('DIoULoss')),
    'CIoU':
    Case(ours.CIoULoss, {}, box_case, mmdet_class('CIoULoss')),
    'YOLOv1':
    Case(ours.YOLOv1Loss, dict(num_boxes=2), lambda: yolov1_case()[:3]),
    'PIoU':
    Case(ours.PIoULoss, {}, rbox_case),
    'PIoU-hard-linear':
    Case(ours.PIoULoss, dict(union='hard', mode='linear'), rbox_case),
    # mmrotate's RotatedIoULoss: mmcv's diff_iou_rotated_2d, CUDA only
    'PolygonIoU':
    Case(
        ours.PolygonIoULoss, {},
        rbox_case,
        mmrotate_rotated_iou,
        reference_cuda_only=True,
        reference_cuda_op=True),
}
CALLS = {
    'default': {},
    'weight-avg_factor': dict(weight=True, avg_factor=13.0),
    'weight-sum': dict(weight=True, reduction_override='sum'),
    'weight-none': dict(weight=True, reduction_override='none'),
}


def inputs(name, call):
    pred, target, weight = CASES[name].inputs()
    call = dict(call)
    if call.pop('weight', False):
        call['weight'] = weight
    return pred, target, call


def test_every_registered_loss_has_a_case():
    from mmdet_losses.registry import MODELS
    registered = {
        cls
        for cls in MODELS.module_dict.values()
        if cls.__module__.startswith('mmdet_losses.models.losses.')
    }
    assert registered == {case.ours for case in CASES.values()}


@pytest.mark.parametrize('call', CALLS.values(), ids=list(CALLS))
@pytest.mark.parametrize('name', CASES)
def test_device_equals_cpu(name, call):
    pred, target, call = inputs(name, call)
    module = CASES[name].ours(**CASES[name].kwargs)
    cpu_loss, cpu_grad = evaluate(module, pred, target, call, 'cpu')
    loss, grad = evaluate(module, pred, target, call)
    assert torch.isfinite(cpu_loss).all() and torch.isfinite(cpu_grad).all()
    assert cpu_grad.abs().sum() > 0
    torch.testing.assert_close(loss, cpu_loss, **VALUE_TOL)
    torch.testing.assert_close(grad, cpu_grad, **GRAD_TOL)


@pytest.mark.parametrize('call', CALLS.values(), ids=list(CALLS))
@pytest.mark.parametrize(
    'name', [name for name, case in CASES.items() if case.reference])
def test_device_equals_mmdets_class_on_the_device(name, call):
    case = CASES[name]
    if case.reference_cuda_only and not ON_CUDA:
        pytest.skip('the reference is a CUDA-only mmcv op')
    pred, target, call = inputs(name, call)
    loss, grad = evaluate(case.ours(**case.kwargs), pred, target, call)
    ref_loss, ref_grad = evaluate(
        case.reference(**case.kwargs), pred, target, call)
    op = case.reference_cuda_op and ON_CUDA
    torch.testing.assert_close(loss, ref_loss,
                               **(CUDA_OP_TOL if op else VALUE_TOL))
    torch.testing.assert_close(grad, ref_grad,
                               **(CUDA_OP_TOL if op else GRAD_TOL))


@needs_real_cuda
def test_mmdets_focal_loss_takes_mmcvs_cuda_op_here():
    """The reference of 'Focal-labels' is mmcv's CUDA op: called directly,
    it gives mmdet's value (so the comparison above is against it)."""
    from mmcv.ops import sigmoid_focal_loss
    pred, labels, _ = labels_case()
    pred, labels = pred.to(DEVICE), labels.to(DEVICE)
    op = sigmoid_focal_loss(pred, labels, 1.5, 0.4, None, 'sum')
    mmdet = mmdet_class('FocalLoss')(
        gamma=1.5, alpha=0.4)(
            pred, labels, reduction_override='sum')
    torch.testing.assert_close(op, mmdet)


def test_nll_equals_torch_on_the_device():
    pred, labels, _ = nll_case()
    loss, grad = evaluate(ours.NLLLoss(), pred, labels, {})
    ref_loss, ref_grad = evaluate(F.nll_loss, pred, labels, {})
    torch.testing.assert_close(loss, ref_loss, **VALUE_TOL)
    torch.testing.assert_close(grad, ref_grad, **GRAD_TOL)


def test_polygon_iou_value_equals_mmcvs_box_iou_rotated_on_the_device():
    from mmcv.ops import box_iou_rotated
    pred, target, _ = rbox_case(40)
    pred, target = pred.to(DEVICE), target.to(DEVICE)
    iou = box_iou_rotated(pred, target, aligned=True).clamp(min=1e-6)
    with native.disabled():
        loss = ours.PolygonIoULoss(reduction='none')(pred, target)
    torch.testing.assert_close(
        loss.cpu(), -iou.log().cpu(), rtol=1e-4, atol=1e-5)


def test_yolov1_targets_encoded_on_the_device_equal_the_cpus():
    *_, gt = yolov1_case()
    boxes, labels, *rest = gt
    cpu = yolov1_encode_targets(boxes, labels, *rest)
    dev = yolov1_encode_targets(
        to_device(boxes, DEVICE), to_device(labels, DEVICE), *rest)
    assert dev.boxes.device.type == DEVICE.type
    torch.testing.assert_close(dev.boxes.cpu(), cpu.boxes)
    assert torch.equal(dev.labels.cpu(), cpu.labels)
    assert dev.num_classes == cpu.num_classes


# -- half precision and autocast ----------------------------------------------

HALF_CASES = ['IoU', 'GIoU', 'DIoU', 'CIoU', 'PIoU', 'PolygonIoU']


@pytest.mark.parametrize('call', CALLS.values(), ids=list(CALLS))
@pytest.mark.parametrize('name', HALF_CASES)
def test_float16_boxes_give_finite_losses_close_to_float32(name, call):
    """float16 boxes are computed in float32 inside: the loss equals the
    float32 loss of the same (rounded) boxes, and is close to the loss of
    the boxes before rounding; the gradient comes back in float16."""
    pred, target, call = inputs(name, call)
    module = CASES[name].ours(**CASES[name].kwargs)
    unrounded, _ = evaluate(module, pred, target, call)
    # the boxes float16 can hold: what a float16 model would pass
    pred, target = pred.half().float(), target.half().float()
    loss16, grad16 = evaluate(
        module, pred, target.half(), call, dtype=torch.float16)
    loss32, grad32 = evaluate(module, pred, target, call)
    assert grad16.dtype == torch.float16
    assert torch.isfinite(loss16).all() and torch.isfinite(grad16).all()
    torch.testing.assert_close(loss16.float(), loss32, rtol=1e-4, atol=1e-5)
    # float16 keeps 11 significant bits; small gradients are subnormal
    torch.testing.assert_close(grad16.float(), grad32, rtol=2e-3, atol=1e-6)
    # rounding the boxes (0.125 px at 150 px) moves a pair's loss by up to
    # 4 %, the reduced loss by 0.4 % (measured on these cases)
    torch.testing.assert_close(
        loss16.float(),
        unrounded,
        rtol=1e-2 if unrounded.dim() == 0 else 1e-1,
        atol=1e-4)


@pytest.mark.parametrize('name', [
    'IoU', 'GIoU', 'DIoU', 'CIoU', 'PIoU', 'PolygonIoU', 'Focal-labels', 'QFL',
    'DFL'
])
def test_autocast_leaves_the_loss_in_float32(name):
    """Under ``--amp`` (autocast: float16 on CUDA, bfloat16 on the CPU) the
    losses of float32 inputs are those without autocast."""
    pred, target, call = inputs(name, CALLS['weight-avg_factor'])
    module = CASES[name].ours(**CASES[name].kwargs)
    plain = evaluate(module, pred, target, call)
    autocast = partial(
        torch.autocast,
        DEVICE.type,
        dtype=torch.float16 if ON_CUDA else torch.bfloat16)
    mixed = evaluate(module, pred, target, call, forward_context=autocast)
    assert mixed[0].dtype == torch.float32
    torch.testing.assert_close(mixed[0], plain[0], **VALUE_TOL)
    torch.testing.assert_close(mixed[1], plain[1], **GRAD_TOL)


# -- DIoU-NMS -----------------------------------------------------------------


@pytest.fixture
def diou_nms_installed():
    """``register_diou_nms()`` for one test, undone afterwards."""
    from mmdet_losses.models.task_modules.diou_nms import register_diou_nms
    module = importlib.import_module('mmcv.ops.nms')
    had = hasattr(module, 'diou_nms')
    register_diou_nms()
    yield
    if not had:
        del module.diou_nms


def detections(n=240, classes=4, seed=0):
    gen = seeded(seed)
    boxes = xyxy_boxes(n, gen, extent=120.0)
    scores = torch.rand(n, generator=gen)
    idxs = torch.randint(0, classes, (n, ), generator=gen)
    return boxes, scores, idxs


def closest_to_threshold(boxes, threshold, beta):
    """The smallest ``|criterion - threshold|`` over the pairs (float64):
    far above float32 rounding, so both devices must decide alike."""
    from mmdet_losses.models.task_modules.diou_nms import diou_nms_criterion
    criterion = diou_nms_criterion(boxes.double(), boxes.double(), beta)
    return float((criterion - threshold).abs().min())


@pytest.mark.parametrize('class_agnostic', [False, True])
@pytest.mark.parametrize('threshold, beta', [(0.5, 1.0), (0.4, 0.6)])
def test_diou_nms_through_batched_nms_keeps_what_the_cpu_keeps(
        diou_nms_installed, threshold, beta, class_agnostic):
    from mmcv.ops import batched_nms
    boxes, scores, idxs = detections()
    assert closest_to_threshold(boxes, threshold, beta) > 1e-5
    cfg = dict(type='diou_nms', iou_threshold=threshold, beta=beta)
    results = [
        batched_nms(*to_device((boxes, scores, idxs), device), dict(cfg),
                    class_agnostic) for device in (torch.device('cpu'), DEVICE)
    ]
    (cpu_dets, cpu_keep), (dets, keep) = results
    assert keep.device.type == DEVICE.type
    assert 0 < len(cpu_keep) < len(boxes)
    assert torch.equal(keep.cpu(), cpu_keep)
    torch.testing.assert_close(dets.cpu(), cpu_dets)


def test_diou_nms_on_the_device_keeps_what_the_cpu_keeps():
    from mmdet_losses.models.task_modules.diou_nms import diou_nms

    # more boxes than one block of the greedy scan (128)
    boxes, scores, _ = detections(400, seed=1)
    assert closest_to_threshold(boxes, 0.5, 1.0) > 1e-5
    cpu_dets, cpu_keep = diou_nms(boxes, scores, 0.5)
    dets, keep = diou_nms(boxes.to(DEVICE), scores.to(DEVICE), 0.5)
    assert keep.device.type == DEVICE.type
    assert torch.equal(keep.cpu(), cpu_keep)
    torch.testing.assert_close(dets.cpu(), cpu_dets)


# -- PrunedRBboxOverlaps2D ----------------------------------------------------


def rotated_anchors(size=256):
    from mmrotate.models.task_modules.prior_generators import \
        FakeRotatedAnchorGenerator
    generator = FakeRotatedAnchorGenerator(
        angle_version='le90',
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128])
    sizes = [(math.ceil(size / s), ) * 2 for s in (8, 16, 32, 64, 128)]
    return torch.cat(
        [level.tensor for level in generator.grid_priors(sizes, device='cpu')])


def random_rboxes(n, seed, extent=256, side=(4, 120)):
    r = torch.rand(n, 5, generator=seeded(seed))
    return torch.stack([
        r[:, 0] * extent, r[:, 1] * extent, side[0] + r[:, 2] *
        (side[1] - side[0]), side[0] + r[:, 3] * (side[1] - side[0]),
        (r[:, 4] - 0.5) * math.pi
    ], 1)


@pytest.mark.parametrize('mode', ['iou', 'iof'])
def test_pruned_rbbox_overlaps_equal_mmrotates_on_the_device(mode):
    from mmrotate.models.task_modules.assigners import RBboxOverlaps2D

    from mmdet_losses.models.task_modules import PrunedRBboxOverlaps2D
    anchors = rotated_anchors().to(DEVICE)
    gts = random_rboxes(20, 0).to(DEVICE)
    theirs = RBboxOverlaps2D()(anchors, gts, mode)
    pruned = PrunedRBboxOverlaps2D()(anchors, gts, mode)
    assert pruned.device.type == DEVICE.type
    assert pruned.shape == theirs.shape == (len(anchors), len(gts))
    assert (theirs > 0).sum() > 100  # the case has overlaps to compute
    torch.testing.assert_close(pruned, theirs, rtol=0, atol=1e-6)
    cpu = PrunedRBboxOverlaps2D()(anchors.cpu(), gts.cpu(), mode)
    torch.testing.assert_close(pruned.cpu(), cpu, rtol=0, atol=1e-5)
    aligned = PrunedRBboxOverlaps2D()(gts, gts.flip(0), mode, True)
    torch.testing.assert_close(
        aligned,
        RBboxOverlaps2D()(gts, gts.flip(0), mode, True),
        rtol=0,
        atol=1e-6)


def test_pruned_overlaps_tensor_helpers_equal_the_numpy_ones():
    """On the CPU the pruning runs in numpy; on CUDA the same helpers run
    on tensors: the hulls and the pairs they keep are the same."""
    from mmdet_losses.models.task_modules.assigners import \
        pruned_iou_calculator as calculator
    anchors, gts = rotated_anchors()[:3000], random_rboxes(20, 1)
    hulls = calculator._hulls(anchors.to(DEVICE), gts.to(DEVICE))
    numpy_hulls = calculator._hulls(anchors.numpy(), gts.numpy())
    for hull, numpy_hull in zip(hulls, numpy_hulls):
        np.testing.assert_allclose(
            hull.cpu().numpy(), numpy_hull, rtol=0, atol=1e-4)
    pairs = calculator._hull_pairs(*numpy_hulls)
    i, j = calculator._hull_pairs(*(torch.from_numpy(h).to(DEVICE)
                                    for h in numpy_hulls))
    assert len(pairs[0]) > 0
    np.testing.assert_array_equal(i.cpu().numpy(), pairs[0])
    np.testing.assert_array_equal(j.cpu().numpy(), pairs[1])


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
def test_circular_smooth_labels_on_the_device_equal_the_cpus(dtype):
    """The label is computed without a scatter, so each bin has one value
    on every device (mmrotate's CSLCoder scatters several values into a
    bin, and which one lands is up to the device)."""
    from mmdet_losses.models.task_modules import CircularSmoothLabelCoder
    coder = CircularSmoothLabelCoder('le90', omega=4, radius=3)
    angles = (torch.rand(257, 1, generator=seeded(3)) - 0.5) * math.pi
    cpu = coder.encode(angles.to(dtype))
    device = coder.encode(angles.to(DEVICE, dtype))
    assert device.device.type == DEVICE.type and device.dtype == dtype
    torch.testing.assert_close(device.cpu(), cpu, rtol=1e-3, atol=1e-3)
    assert device.max(1).values.min().item() == 1.0
    torch.testing.assert_close(
        coder.decode(device).cpu(), coder.decode(cpu), rtol=0, atol=0)
