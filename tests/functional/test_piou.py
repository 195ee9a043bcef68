"""PIoU (mmdet_losses.functional.piou) against its definition.

The reference below is the definition written out plainly: for each pair,
the pixel window from the boxes' corners, every pixel centre's membership
from ``p - c`` projected on the box axes, sums in float64 numpy. It shares
no code with the package.
"""
import importlib
import math

import numpy as np
import pytest
import torch

from mmdet_losses.functional.piou import (piou_loss, pixel_hull, pixel_iou,
                                          pixel_overlaps)


def _corners(box):
    cx, cy, w, h, t = box
    c, s = math.cos(t), math.sin(t)
    return [(cx + a * w / 2 * c - b * h / 2 * s,
             cy + a * w / 2 * s + b * h / 2 * c) for a in (-1, 1)
            for b in (-1, 1)]


def reference_window(box1, box2):
    points = _corners(box1) + _corners(box2)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = math.floor(min(xs)), math.floor(min(ys))
    nx = max(math.ceil(max(xs)) - x0, 1)
    ny = max(math.ceil(max(ys)) - y0, 1)
    return x0, y0, nx, ny


def reference_membership(box, px, py, k):
    cx, cy, w, h, t = box
    dx, dy = px - cx, py - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)

    def kernel(d, s):
        with np.errstate(over='ignore'):  # exp overflow means 0
            return 1 / (1 + np.exp(-k * (s - d)))

    return kernel(np.abs(u), w / 2) * kernel(np.abs(v), h / 2)


def reference_sums(pred, target, k=10.0, windows=None):
    """(I, A_pred, A_target) per pair, float64; ``windows`` fixes the pixel
    windows (for finite differences)."""
    out = []
    for i, (b1, b2) in enumerate(
            zip(pred.double().tolist(),
                target.double().tolist())):
        x0, y0, nx, ny = windows[i] if windows else reference_window(b1, b2)
        px, py = np.meshgrid(
            np.arange(x0, x0 + nx) + 0.5,
            np.arange(y0, y0 + ny) + 0.5)
        f1 = reference_membership(b1, px, py, k)
        f2 = reference_membership(b2, px, py, k)
        out.append(((f1 * f2).sum(), f1.sum(), f2.sum()))
    return np.array(out)


def reference_piou(pred, target, union='soft', k=10.0):
    inter, a1, a2 = reference_sums(pred, target, k).T
    if union == 'soft':
        return inter / (a1 + a2 - inter)
    exact = (pred[:, 2] * pred[:, 3] + target[:, 2] * target[:, 3]).double()
    return inter / np.maximum(exact.numpy() - inter, inter)


def random_pairs(n, seed, max_size=200.0):
    """Pairs of every size (0.5 to max_size px, any aspect) and angle:
    overlapping perturbations, independent boxes and identical boxes."""
    g = torch.Generator().manual_seed(seed)

    def boxes(m):
        size = torch.exp(
            torch.rand(m, 2, generator=g) * math.log(max_size / 0.5)) * 0.5
        ctr = torch.rand(m, 2, generator=g) * 300 - 50
        angle = (torch.rand(m, 1, generator=g) * 2 - 1) * math.pi
        return torch.cat((ctr, size, angle), dim=1)

    target = boxes(n)
    noise = torch.randn(
        n, 5, generator=g) * torch.cat(
            (target[:, 2:4] * 0.2, target[:, 2:4] * 0.2, torch.full(
                (n, 1), 0.3)),
            dim=1)
    near = target + noise
    near[:, 2:4] = near[:, 2:4].abs()
    third = n // 3
    pred = torch.cat((near[:third], boxes(third), target[2 * third:]))
    return pred.double(), target.double()


@pytest.mark.parametrize('union', ['soft', 'hard'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_piou_equals_dense_definition(union, dtype):
    pred, target = random_pairs(45, seed=1)
    expected = reference_piou(pred, target, union)
    value = pixel_iou(pred.to(dtype), target.to(dtype), union=union)
    tol = 1e-3 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(value.double().numpy(), expected, atol=tol)
    # the cases are not trivial: overlaps from none to full
    assert expected.min() < 1e-3 and expected.max() > 0.9


def test_sums_equal_definition_small_and_large_windows():
    pred, target = random_pairs(30, seed=2, max_size=400)
    # and boxes up to 1000 px (a 1024 DOTA patch), at large coordinates
    big_target = torch.tensor([[700.3, 650.8, 1000., 300., 0.6],
                               [5000.5, 4000.2, 640., 610., -1.2],
                               [800., 900., 900., 40., 1.5]]).double()
    big_pred = big_target + torch.tensor([[15., -8., 40., -20., 0.05],
                                          [-30., 12., -25., 30., 0.1],
                                          [3., 2., -60., 6., -0.02]]).double()
    pred, target = torch.cat((pred, big_pred)), torch.cat((target, big_target))
    expected = reference_sums(pred, target)
    sums = torch.stack(pixel_overlaps(pred.float(), target.float()), dim=1)
    np.testing.assert_allclose(
        sums.double().numpy(), expected, rtol=1e-5, atol=1e-4)
    inter, a1, a2 = expected.T
    np.testing.assert_allclose(
        pixel_iou(pred.float(), target.float()).double().numpy(),
        inter / (a1 + a2 - inter),
        atol=1e-3)


def test_window_covers_both_boxes():
    pred, target = random_pairs(30, seed=3)
    x0, y0, nx, ny = pixel_hull(pred, target)
    for i, (b1, b2) in enumerate(zip(pred.tolist(), target.tolist())):
        assert (int(x0[i]), int(y0[i]), int(nx[i]),
                int(ny[i])) == reference_window(b1, b2)


def _fixed_window_sums(pred, target, windows, coeffs):
    return float(
        (reference_sums(pred, target, windows=windows) * coeffs).sum())


def test_gradients_match_finite_differences():
    """Analytic backward against central differences of the reference
    (pixel windows held fixed: they are piecewise constant)."""
    pred, target = random_pairs(9, seed=4, max_size=60)
    windows = [
        reference_window(b1, b2)
        for b1, b2 in zip(pred.tolist(), target.tolist())
    ]
    coeffs = np.random.default_rng(0).normal(size=(len(pred), 3))
    p = pred.clone().requires_grad_()
    t = target.clone().requires_grad_()
    sums = torch.stack(pixel_overlaps(p, t, chunk_pixels=500), dim=1)
    (sums * torch.from_numpy(coeffs)).sum().backward()
    h = 1e-5
    for boxes, grad in ((pred, p.grad), (target, t.grad)):
        numeric = torch.zeros_like(boxes)
        for i in range(len(boxes)):
            for j in range(5):
                plus, minus = boxes.clone(), boxes.clone()
                plus[i, j] += h
                minus[i, j] -= h
                args = ((plus, target), (minus, target)) \
                    if boxes is pred else ((pred, plus), (pred, minus))
                numeric[i, j] = (
                    _fixed_window_sums(*args[0], windows, coeffs) -
                    _fixed_window_sums(*args[1], windows, coeffs)) / (2 * h)
        torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-5)


def test_gradcheck_across_blocks():
    pred, target = random_pairs(15, seed=5, max_size=20)
    # overlapping pairs, windows of a few blocks each
    pred = pred[:5].requires_grad_()
    target = target[:5].requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b: pixel_overlaps(a, b, chunk_pixels=64), (pred, target),
        eps=1e-6,
        atol=1e-5,
        rtol=1e-4)


def _value_and_grads(pred, target, **kwargs):
    p = pred.clone().requires_grad_()
    t = target.clone().requires_grad_()
    loss = piou_loss(p, t, **kwargs)
    (loss * torch.linspace(0.5, 1.5, len(loss), dtype=loss.dtype)).sum()\
        .backward()
    return loss.detach(), p.grad, t.grad


@pytest.mark.parametrize(
    'kwargs', [
        dict(chunk_pixels=5),
        dict(chunk_pixels=100),
        dict(chunk_pixels=1 << 12),
        dict(method='dense'),
    ],
    ids=['5', '100', '4096', 'dense'])
def test_chunking_does_not_change_value_or_gradient(kwargs):
    pred, target = random_pairs(12, seed=6, max_size=40)
    # overlapping and identical pairs (the independent ones span large
    # windows, slow with tiny chunks)
    keep = list(range(4)) + list(range(8, 12))
    pred, target = pred[keep], target[keep]
    # a window wider than the small chunks: its rows are cut in pieces
    pred[0] = torch.tensor([100., 50., 160., 3., 0.01])
    target[0] = torch.tensor([104., 50., 150., 4., -0.02])
    reference = _value_and_grads(pred, target)
    for got, want in zip(_value_and_grads(pred, target, **kwargs), reference):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    'case', [
        ([20.5, 20.5, 8, 4, 0.0], [20.5, 20.5, 8, 4, 0.0]),
        ([20.5, 20.5, 8, 4, 0.3], [20.5, 20.5, 6, 2, -0.4]),
        ([20.0, 20.0, 0.0, 0.0, 0.0], [20.0, 20.0, 0.0, 0.0, 0.0]),
        ([20.0, 20.0, 0.0, 5.0, 0.7], [21.0, 20.0, 5.0, 0.0, 0.1]),
        ([20.2, 20.7, 10, 3, math.pi / 2], [20.2, 20.7, 10, 3, -math.pi / 2]),
        ([20.0, 20.0, 10, 3, -math.pi / 2], [22.0, 21.0, 12, 4, math.pi / 2]),
        ([5.0, 5.0, 1e-4, 1e-4, 0.2], [5.0, 5.0, 2e-4, 1e-4, 0.0]),
        ([0.0, 0.0, 4, 4, 0.0], [300.0, 300.0, 4, 4, 0.0]),
        ([500.0, 500.0, 1000, 700, 0.3], [510.0, 495.0, 990, 720, 0.25]),
    ],
    ids=[
        'identical', 'coincident-centres', 'zero-size', 'zero-side',
        'angle+-pi/2', 'angles-at-ends', 'tiny', 'far-apart', '1000px'
    ])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_finite_everywhere(case, dtype):
    pred = torch.tensor([case[0]], dtype=dtype)
    target = torch.tensor([case[1]], dtype=dtype)
    for mode in ('log', 'official', 'linear'):
        for union in ('soft', 'hard'):
            loss, grad_p, grad_t = _value_and_grads(
                pred, target, mode=mode, union=union, chunk_pixels=1 << 16)
            assert torch.isfinite(loss).all(), (mode, union, loss)
            assert torch.isfinite(grad_p).all(), (mode, union, grad_p)
            assert torch.isfinite(grad_t).all(), (mode, union, grad_t)


def test_identical_boxes_centre_gradient_vanishes():
    """Boxes centred on a pixel centre are symmetric: no pull in any
    direction. The kink of |u| at that pixel counts as zero slope (the
    central difference); it matters for boxes under a pixel."""
    box = torch.tensor([[20.5, 20.5, 8., 4., 0.], [20.5, 20.5, .6, .4, 0.]],
                       dtype=torch.float64)
    _, grad, _ = _value_and_grads(box, box.clone())
    assert grad[:, [0, 1, 4]].abs().max() < 1e-9


def test_angle_period_and_side_swap():
    pred, target = random_pairs(20, seed=7, max_size=80)
    base = pixel_iou(pred, target)
    turned = pred.clone()
    turned[:, 4] += math.pi
    swapped = pred[:, [0, 1, 3, 2, 4]].clone()
    swapped[:, 4] += math.pi / 2
    torch.testing.assert_close(pixel_iou(turned, target), base)
    torch.testing.assert_close(pixel_iou(swapped, target), base)


def test_orientation_matches_mmcv_box_iou_rotated():
    """Large boxes: PIoU is close to the exact IoU of mmcv's kernel (our
    angle direction is mmcv's); with the angles mirrored it is not."""
    from mmcv.ops import box_iou_rotated
    target = torch.tensor([[300., 300., 200., 60., 0.5],
                           [300., 300., 160., 80., -0.9]])
    pred = torch.tensor([[330., 320., 200., 60., 0.4],
                         [280., 330., 170., 70., -0.6]])
    exact = box_iou_rotated(pred, target, aligned=True)
    assert (pixel_iou(pred, target) - exact).abs().max() < 0.02
    mirrored = pred.clone()
    mirrored[:, 4] *= -1
    target_mirrored = target.clone()
    target_mirrored[:, 4] *= -1
    # mirrored angles describe other boxes: the IoU changes a lot
    assert (pixel_iou(mirrored, target_mirrored) - exact).abs().max() > 0.1


def descend(size, seed, centre, iters, milestones, **kwargs):
    """Adam on PIoU from perturbed 2:1 boxes of the given sides (``size``)
    at random angles; the absolute error of each parameter at the end."""
    g = torch.Generator().manual_seed(seed)
    n = size.numel()
    target = torch.stack(
        (centre + torch.rand(n, generator=g) * 10,
         centre + torch.rand(n, generator=g) * 10, size, size / 2,
         (torch.rand(n, generator=g) * 2 - 1) * 1.5),
        dim=1).double()
    start = target + torch.randn(
        n, 5, generator=g).double() * torch.stack(
            (size * 0.1, size * 0.1, size * 0.1, size * 0.05,
             torch.full((n, ), 0.15)),
            dim=1).double()
    delta = torch.zeros(n, 5, dtype=torch.float64, requires_grad=True)
    scale = torch.cat((target[:, 2:4], target[:, 2:4], torch.ones(n, 1)),
                      dim=1).double()
    optim = torch.optim.Adam([delta], lr=0.01)
    sched = torch.optim.lr_scheduler.MultiStepLR(optim, milestones, 0.1)
    for _ in range(iters):
        optim.zero_grad()
        piou_loss(start + delta * scale, target, **kwargs).sum().backward()
        optim.step()
        sched.step()
    return (start + delta * scale - target).detach().abs()


def test_gradient_descent_reaches_the_target():
    """The soft-count bias does not move the optimum far: Adam on PIoU from
    perturbed 2:1 boxes ends within 0.5 px and 0.01 rad of the target
    (tools/analysis/piou_vs_iou.py measures more sizes)."""
    size = torch.tensor([24., 32., 48., 64., 96., 128.])
    err = descend(size, seed=8, centre=100, iters=300, milestones=[200, 250])
    assert err[:, :4].max() < 0.5, err
    assert err[:, 4].max() < 0.01, err


def test_bad_input_is_named():
    box = torch.tensor([[10., 10., 4., 2., 0.]])
    with pytest.raises(ValueError, match=r'shape \(N, 5\)'):
        pixel_iou(box[:, :4], box[:, :4])
    with pytest.raises(ValueError, match='same shape'):
        pixel_iou(box, box.repeat(2, 1))
    nan = box.repeat(3, 1)
    nan[2, 1] = float('nan')
    with pytest.raises(ValueError, match='pred box 2 is not finite'):
        pixel_iou(nan, box.repeat(3, 1))
    negative = box.repeat(2, 1)
    negative[1, 3] = -1
    with pytest.raises(ValueError, match='target box 1 has a negative'):
        pixel_iou(box.repeat(2, 1), negative)
    with pytest.raises(ValueError, match='union'):
        pixel_iou(box, box, union='hrad')
    with pytest.raises(ValueError, match='mode'):
        piou_loss(box, box, mode='ln')
    with pytest.raises(ValueError, match='k must be > 0'):
        pixel_iou(box, box, k=0)
    with pytest.raises(ValueError, match='chunk_pixels'):
        pixel_iou(box, box, chunk_pixels=0)
    with pytest.raises(ValueError, match='max_hull_pixels'):
        pixel_iou(box, box, max_hull_pixels=0)


def test_oversized_windows_are_sampled():
    """Windows beyond max_hull_pixels are sampled on a coarser grid: close
    to the exact value, and a diverged prediction costs bounded time and
    still gets a gradient that shrinks it."""
    pred = torch.tensor([[500., 500., 300., 200., 0.3]], dtype=torch.float64)
    target = torch.tensor([[510., 495., 320., 180., 0.2]], dtype=torch.float64)
    exact = pixel_iou(pred, target)
    # a 400-odd px window: exact under the default, strides 3 and 9 here
    sums = torch.stack(pixel_overlaps(pred, target))
    for limit, tol in ((20000, 0.01), (2000, 0.03)):
        sampled = pixel_iou(pred, target, max_hull_pixels=limit)
        assert 0 < (sampled - exact).abs() < tol
        # each sample counts for stride**2 pixels: the areas stay areas
        torch.testing.assert_close(
            torch.stack(pixel_overlaps(pred, target, max_hull_pixels=limit)),
            sums,
            rtol=tol,
            atol=0)
    diverged = torch.tensor([[1e4, 1e4, 2e4, 2e4, 0.]], requires_grad=True)
    small = torch.tensor([[1e4, 1e4, 100., 50., 0.3]])
    loss = piou_loss(diverged, small, max_hull_pixels=1 << 16)
    loss.backward()
    assert torch.isfinite(loss).all() and loss.item() > 5
    assert (diverged.grad[0, 2:4] > 0).all()  # descent shrinks it


def test_empty_input_stays_attached():
    pred = torch.zeros(0, 5, requires_grad=True)
    loss = piou_loss(pred, torch.zeros(0, 5))
    assert loss.shape == (0, )
    loss.sum().backward()
    assert pred.grad.shape == (0, 5)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    pred, target = random_pairs(10, seed=9, max_size=400)
    pred, target = pred.to(dtype), target.to(dtype)
    # the same (rounded) boxes in float64
    expected = pixel_iou(pred.double(), target.double())
    p = pred.clone().requires_grad_()
    value = pixel_iou(p, target)
    assert value.dtype == torch.float32
    assert (value.double() - expected).abs().max() < 1e-3
    value.sum().backward()
    assert p.grad.dtype == dtype and torch.isfinite(p.grad).all()


def test_official_clamp_has_no_gradient_below_a_tenth():
    pred = torch.tensor([[10., 10., 4., 4., 0.], [10., 10., 4., 4., 0.]],
                        dtype=torch.float64,
                        requires_grad=True)
    target = torch.tensor([[30., 10., 4., 4., 0.], [11., 10., 4., 4., 0.]],
                          dtype=torch.float64)
    loss = piou_loss(pred, target, mode='official')
    value = pixel_iou(pred.detach(), target)
    assert value[0] < 0.1 < value[1]
    torch.testing.assert_close(loss[0], -2 * torch.tensor(0.1).double().log())
    torch.testing.assert_close(loss[1], -2 * value[1].log())
    loss.sum().backward()
    assert pred.grad[0].abs().max() == 0 and pred.grad[1].abs().max() > 0
    torch.testing.assert_close(
        piou_loss(pred, target, mode='linear'), 1 - value)
    torch.testing.assert_close(
        piou_loss(pred, target), -value.clamp(min=1e-6).log())


# the module (the package exports functions of the same names)
piou_module = importlib.import_module('mmdet_losses.functional.piou')


def test_memory_does_not_grow_with_box_size(monkeypatch):
    """Forward keeps only the boxes for backward, and no block of pixels
    exceeds chunk_pixels, whatever the box size."""
    chunk = 1024  # under the width of the 1000 px windows: rows are cut
    largest = []
    original = piou_module._kernels

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        largest.append(out[0].numel())
        return out

    monkeypatch.setattr(piou_module, '_kernels', spy)
    for side in (10., 100., 1000.):
        pred = torch.tensor([[600., 600., side, side / 2, 0.3]],
                            requires_grad=True)
        target = torch.tensor([[605., 598., side * 1.1, side / 2, 0.25]])
        saved = []

        def pack(tensor):
            saved.append(tensor.numel())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = piou_loss(pred, target, chunk_pixels=chunk).sum()
        loss.backward()
        # the boxes and ten derivative sums per box: nothing per pixel
        assert sum(saved) < 100, (side, saved)
        assert max(largest) <= chunk
        largest.clear()
    # the dense method, by contrast, keeps every pixel term
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t.numel()) or t, lambda t: t):
        piou_loss(pred, target, method='dense')
    assert sum(saved) > 1000 * 500


def reference_sums_subgrid(pred, target, s, k=10.0):
    """(I, A_pred, A_target) on the centres of an s x s sub-grid of every
    pixel, in pixel units (k per pixel), float64; the window is the hull
    rounded out to the sub-grid."""
    out = []
    for b1, b2 in zip(pred.double().tolist(), target.double().tolist()):
        points = _corners(b1) + _corners(b2)
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, y0 = math.floor(min(xs) * s), math.floor(min(ys) * s)
        nx = max(math.ceil(max(xs) * s) - x0, 1)
        ny = max(math.ceil(max(ys) * s) - y0, 1)
        px, py = np.meshgrid((np.arange(x0, x0 + nx) + 0.5) / s,
                             (np.arange(y0, y0 + ny) + 0.5) / s)
        f1 = reference_membership(b1, px, py, k)
        f2 = reference_membership(b2, px, py, k)
        out.append(((f1 * f2).sum(), f1.sum(), f2.sum()))
    return np.array(out) / (s * s)


@pytest.mark.parametrize('s', [2, 3])
def test_sub_pixel_grid_equals_its_definition(s):
    pred, target = random_pairs(20, seed=11, max_size=60)
    expected = reference_sums_subgrid(pred, target, s)
    sums = pixel_overlaps(pred.double(), target.double(), samples_per_pixel=s)
    np.testing.assert_allclose(
        torch.stack(sums, dim=1).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_sub_pixel_grid_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(12)
    target = torch.tensor([[20.3, 21.7, 9.0, 4.5, 0.4]]).double()
    pred = (
        target + torch.randn(1, 5, generator=g).double() *
        torch.tensor([[1.0, 1.0, 0.8, 0.5, 0.1]]).double())
    pred.requires_grad_(True)

    def value(p):
        return pixel_iou(p, target, samples_per_pixel=2).sum()

    value(pred).backward()
    numeric = torch.zeros(5, dtype=torch.float64)
    for i in range(5):
        step = torch.zeros(1, 5, dtype=torch.float64)
        step[0, i] = 1e-6
        with torch.no_grad():
            numeric[i] = (value(pred + step) - value(pred - step)) / 2e-6
    np.testing.assert_allclose(
        pred.grad[0].numpy(), numeric.numpy(), rtol=1e-4, atol=1e-7)


def test_sub_pixel_grid_descent_reaches_small_targets():
    """On 8 and 12 px boxes the pixel count moves in steps as a box turns,
    and the optimum of the pixel-grid PIoU can sit more than 0.01 rad off
    (tools/analysis/piou_vs_iou.py); with 4 samples per pixel side Adam
    ends within 0.5 px and 0.01 rad of every target."""
    size = torch.tensor([8., 8., 8., 12., 12., 12.])
    err = descend(
        size,
        seed=13,
        centre=30,
        iters=400,
        milestones=[240, 320],
        samples_per_pixel=4)
    assert err[:, :4].max() < 0.5, err
    assert err[:, 4].max() < 0.01, err


def test_sub_pixel_grid_rejects_bad_counts():
    box = torch.tensor([[10., 10., 4., 2., 0.]])
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match='samples_per_pixel'):
            pixel_overlaps(box, box, samples_per_pixel=bad)
