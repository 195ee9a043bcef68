"""The compiled CPU kernel of the IoU family (``csrc/iou_family_cpu.cpp``)
against the torch implementation of the same losses, its build and its
fallback. tests/functional/test_iou_family.py runs its reference tests
(mmdet, autograd of the formulas, gradcheck, robustness) on both."""
import math
import os
import subprocess
import sys

import pytest
import torch
from loss_references import edge_case_pairs, random_boxes, reference_iou_family

from mmdet_losses.functional import ciou_loss, iou_family, native

KINDS = [('iou', 'log'), ('iou', 'linear'), ('iou', 'square'), ('giou', ''),
         ('diou', ''), ('ciou', '')]
ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    native._compiler() is None,
    reason='no C++ compiler: the kernel can not be built on this machine')


def odd_pairs(dtype):
    """Random pairs, overlapping pairs, the edge cases of the references,
    and boxes no detector should produce: inverted, zero-size, one huge
    side, ties on every coordinate, non-finite corners."""
    g = torch.Generator().manual_seed(0)
    pred, target = random_boxes(300, g), random_boxes(300, g)
    target[::2] = pred[::2] + torch.randn(
        150, 4, generator=g, dtype=torch.float64) * 3
    edge_pred, edge_target = edge_case_pairs()
    odd = torch.tensor(
        [
            [[4, 4, 0, 0], [0, 0, 4, 4]],  # inverted prediction
            [[0, 0, 4, 4], [6, 6, 2, 2]],  # inverted target
            [[3, 3, 3, 3], [3, 3, 3, 3]],  # two points
            [[0, 0, 0, 5], [0, 0, 0, 5]],  # two identical segments
            [[0, 0, 5, 0], [1, 0, 2, 3]],  # zero height
            [[0, 0, 1e5, 1e-4], [0, 0, 1e-4, 1e5]],  # extreme aspects
            [[1, 1, 2, 2], [1, 1, 2, 2]],  # identical, small
            [[0, 0, 4, 4], [0, 0, 4, 2]],  # three shared sides
            [[0, 0, math.inf, 4], [0, 0, 4, 4]],  # infinite side
            [[0, 0, math.nan, 4], [0, 0, 4, 4]],  # NaN corner
        ],
        dtype=torch.float64)
    return (torch.cat([pred, edge_pred, odd[:, 0]]).to(dtype),
            torch.cat([target, edge_target, odd[:, 1]]).to(dtype))


def run_pass(pred, target, spec, weight, jac_p, jac_t, compiled, alpha=None):
    scale = 0.37 if weight is not None else 1.0
    if compiled:
        assert native.iou_family_kernel(pred.dtype) is not None
        return iou_family._iou_pass(pred, target, weight, alpha, spec, scale,
                                    jac_p, jac_t)
    with native.disabled():
        assert native.iou_family_kernel(pred.dtype) is None
        return iou_family._iou_pass(pred, target, weight, alpha, spec, scale,
                                    jac_p, jac_t)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('kind,mode,threshold',
                         [k + (None, ) for k in KINDS] + [('ciou', '', 0.5)])
@pytest.mark.parametrize('weighted', [False, True])
def test_kernel_equals_the_torch_pass(dtype, kind, mode, threshold, weighted):
    pred, target = odd_pairs(dtype)
    finite = torch.isfinite(pred).all(1) & torch.isfinite(target).all(1)
    weight = torch.rand(len(pred), dtype=dtype) if weighted else None
    spec = iou_family.LossSpec(kind, mode, 1e-6, threshold)
    tol = dict(
        rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(
            rtol=1e-12, atol=1e-12)
    for jac_p, jac_t in ((True, True), (True, False), (False, True), (False,
                                                                      False)):
        got_loss, got = run_pass(pred, target, spec, weight, jac_p, jac_t,
                                 True)
        want_loss, want = run_pass(pred, target, spec, weight, jac_p, jac_t,
                                   False)
        if weighted:
            # a non-finite box makes the sum NaN in both
            assert got_loss.isnan() and want_loss.isnan()
        else:
            torch.testing.assert_close(got_loss[finite], want_loss[finite],
                                       **tol)
        for wanted, a, b in zip((jac_p, jac_t), got, want):
            assert (a is None) == (b is None) == (not wanted)
            if wanted:
                # a non-finite box (no loss defines one) changes no
                # other pair's row
                torch.testing.assert_close(a[finite], b[finite], **tol)
        if weighted:
            got_loss, got = run_pass(pred[finite], target[finite], spec,
                                     weight[finite], jac_p, jac_t, True)
            want_loss, want = run_pass(pred[finite], target[finite], spec,
                                       weight[finite], jac_p, jac_t, False)
            torch.testing.assert_close(got_loss, want_loss, **tol)
            for a, b in zip(got, want):
                torch.testing.assert_close(a, b, **tol)


def test_external_alpha_is_used_as_given():
    pred, target = odd_pairs(torch.float64)
    pred, target = pred[:300], target[:300]
    alpha = torch.rand(300, dtype=torch.float64)
    spec = iou_family.LossSpec('ciou', '', 1e-7, None)
    got = run_pass(pred, target, spec, None, True, True, True, alpha)
    want = run_pass(pred, target, spec, None, True, True, False, alpha)
    for a, b in zip([got[0]] + got[1], [want[0]] + want[1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # and it is not the computed alpha
    assert not torch.allclose(
        got[0],
        run_pass(pred, target, spec, None, False, False, True)[0])


def test_float32_arctan_is_accurate():
    """The kernel's float arctan (a polynomial, not the C library's):
    CIoU's aspect term over aspect ratios from 1e-6 to 1e6, both signs,
    and zero sides, in float32 against the float64 formula."""
    ratios = torch.logspace(-6, 6, 2001, dtype=torch.float64)
    w = torch.cat([ratios, -ratios, torch.zeros(3), torch.ones(3)])
    h = torch.cat([torch.ones(2002 * 2 - 2),
                   torch.ones(3),
                   torch.zeros(3)])[:len(w)]
    pred = torch.stack([torch.zeros_like(w), torch.zeros_like(w), w, h], 1)
    # the target: a unit square with the same centre region, so that the
    # loss is dominated by v = 4/pi^2 (atan(1) - atan(w/h))^2
    target = torch.tensor([[0., 0., 1., 1.]],
                          dtype=torch.float64).expand_as(pred)
    got = ciou_loss(pred.float(), target.float())
    want = reference_iou_family(pred, target, 'ciou')
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=2e-6, atol=2e-7)


def test_non_contiguous_and_batched_inputs():
    pred, target = odd_pairs(torch.float32)
    pred, target = pred[:300], target[:300]
    columns = pred.t().contiguous().t()  # the same values, column-major
    assert not columns.is_contiguous()
    for fn_kw in (dict(), dict(reduction='mean')):
        torch.testing.assert_close(
            ciou_loss(columns, target, **fn_kw),
            ciou_loss(pred, target, **fn_kw),
            rtol=0,
            atol=0)
    batched = ciou_loss(pred.reshape(3, 100, 4), target.reshape(3, 100, 4))
    torch.testing.assert_close(batched.reshape(-1), ciou_loss(pred, target))


def test_build_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv('MMDET_LOSSES_CACHE', str(tmp_path))
    first = native.build('iou_family_cpu')
    assert os.path.dirname(first) == str(tmp_path)
    stamp = os.stat(first).st_mtime_ns
    assert native.build('iou_family_cpu') == first
    assert os.stat(first).st_mtime_ns == stamp
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.partial')]


def test_a_failed_build_names_the_compiler_error(tmp_path, monkeypatch):
    monkeypatch.setenv('MMDET_LOSSES_CACHE', str(tmp_path))
    source = tmp_path / 'csrc'
    source.mkdir()
    (source / 'broken.cpp').write_text('int f( {\n')
    monkeypatch.setattr(native, 'CSRC', str(source))
    with pytest.raises(RuntimeError, match=r'broken\.cpp.*failed'):
        native.build('broken')
    assert os.listdir(tmp_path) == ['csrc']  # nothing half-written left


FALLBACK = r'''
import warnings
import torch
from mmdet_losses.functional import giou_loss, iou_family, native
boxes = torch.tensor([[0., 0., 4., 4.]])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    loss = giou_loss(boxes, boxes + 1).item()
    again = giou_loss(boxes, boxes + 1).item()
print(native.iou_family_kernel(torch.float32) is None, loss == again,
      round(loss, 6), [str(w.message) for w in caught])
'''


def run_script(env):
    out = subprocess.run([sys.executable, '-c', FALLBACK],
                         env=dict(os.environ, PYTHONPATH=ROOT, **env),
                         capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_without_a_compiler_the_torch_pass_runs_with_one_warning(tmp_path):
    # a fresh cache (nothing built) and a compiler that always fails
    out = run_script(dict(MMDET_LOSSES_CACHE=str(tmp_path), CXX='false'))
    want = round(2 - 9 / 23 - 23 / 25, 6)  # 2 - IoU - U / C
    assert out.startswith(f'True True {want} ')
    assert out.count('compiled IoU-family kernel is not available') == 1


def test_the_environment_switch_turns_the_kernel_off(tmp_path):
    out = run_script(dict(MMDET_LOSSES_NATIVE='0'))
    assert out.startswith('True True ') and out.strip().endswith('[]')
