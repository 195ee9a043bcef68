"""Forward + backward time and peak memory of each loss of this package
against mmdet's loss of the same name and ``torchvision.ops`` where it has
one, on the same inputs in the same run; prints the ratios.

Sizes are those of training (REFERENCE: issue 3): IoU family on 20k and
200k box pairs; Focal and QFL on 2 images x 100k anchors x 80 classes (90%
background); DFL on 50k positives x 4 sides x 17 bins. Every loss is called
the way mmdet's heads call it (per-sample weights and an ``avg_factor``),
then ``.backward()``.

Time. The implementations run interleaved (ours, mmdet, torchvision, ours,
...) ``--repeat`` times after a warm-up; the table gives medians. On a CPU
both the wall-clock time and the process CPU time are measured; the
speed-up uses the CPU time, which other processes on a shared machine
inflate much less than the wall clock (with ``--threads 1``, the default,
CPU time is the single thread's working time). On CUDA, wall-clock time
between synchronisations.

Peak memory. ``tracemalloc`` does not see torch's allocations and
``ru_maxrss`` only grows, so on a CPU the peak is read from
``torch.profiler`` with ``profile_memory=True``, which records every
allocation and free of torch's CPU allocator with a timestamp: the peak is
the maximum of their running sum over one forward + backward, starting with
the inputs allocated and their ``.grad`` cleared, so the gradient buffers
count. On CUDA, ``torch.cuda.max_memory_allocated`` above the same start.

Bandwidth bound. A copy of 256 MB measures the machine's memory bandwidth
B (bytes read + written per second) in the same run. A loss must at least
read its inputs (predictions, targets, weights) and write the gradient of
its predictions; ``bound = those bytes / B`` is the time no implementation
can beat, and the last column is ``ours / bound``.

Usage::

    python tools/benchmark_losses.py               # CPU, one thread
    python tools/benchmark_losses.py --only giou focal --repeat 11
    python tools/benchmark_losses.py --device cuda
    python tools/benchmark_losses.py --quick        # tiny sizes, a smoke test
"""
import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmdet_losses.functional import native  # noqa: E402

IOU_NAMES = {
    'iou': 'IoULoss',
    'giou': 'GIoULoss',
    'diou': 'DIoULoss',
    'ciou': 'CIoULoss'
}
TORCHVISION_BOX_LOSSES = {
    'giou': 'generalized_box_iou_loss',
    'diou': 'distance_box_iou_loss',
    'ciou': 'complete_box_iou_loss'
}


def torchvision_ops():
    """``torchvision.ops``, or None where torchvision does not load beside
    this torch (the CPU build of torch 2.13 and torchvision from the
    index)."""
    try:
        import torchvision.ops
        torchvision.ops.box_iou(torch.zeros(1, 4), torch.zeros(1, 4))
        return torchvision.ops
    except Exception:
        return None


def count(n: int) -> str:
    return f'{n // 1000}k' if n >= 1000 else str(n)


def build_losses(name: str):
    """``(ours, mmdet's)`` modules of a registered loss, default arguments
    (CIoU with mmdet's alpha gating on both sides)."""
    import mmdet.models  # noqa: F401 (registers mmdet's losses)
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import DefaultScope

    import mmdet_losses
    mmdet_losses.register_all_modules(init_default_scope=False)
    built = []
    for scope in ('mmdet_losses', 'mmdet'):
        with DefaultScope.overwrite_default_scope(scope):
            built.append(MMDET_MODELS.build(dict(type=name)))
    return built


class Case:
    """One benchmark row: inputs, the implementations to compare, and the
    bytes a loss cannot avoid moving."""

    def __init__(self, label: str, make_inputs: Callable[[], dict],
                 impls: Dict[str, Callable[[dict], torch.Tensor]], leaf: str):
        self.label = label
        self.make_inputs = make_inputs
        self.impls = impls
        self.leaf = leaf  # the input that receives a gradient

    def min_bytes(self, inputs: dict) -> int:
        read = sum(t.numel() * t.element_size() for t in inputs.values()
                   if isinstance(t, torch.Tensor))
        grad = inputs[self.leaf]
        return read + grad.numel() * grad.element_size()


def box_pairs(n: int, device: str, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def boxes():
        xy = torch.rand(n, 2, generator=g) * 800
        wh = torch.rand(n, 2, generator=g) * 200 + 2
        return torch.cat([xy, xy + wh], 1)

    pred = boxes()
    target = pred + torch.randn(n, 4, generator=g) * 10  # mostly overlapping
    target[:, 2:] = torch.maximum(target[:, 2:], target[:, :2] + 1)
    return dict(
        pred=pred.to(device).requires_grad_(),
        target=target.to(device),
        weight=torch.rand(n, generator=g).to(device))


def iou_case(kind: str, n: int, device: str, tv) -> Case:
    ours, mmdet = build_losses(IOU_NAMES[kind])
    avg = float(n) / 4

    def call(module):
        return lambda x: module(
            x['pred'], x['target'], x['weight'], avg_factor=avg)

    impls = {'ours': call(ours), 'mmdet': call(mmdet)}
    if tv is not None and kind in TORCHVISION_BOX_LOSSES:
        fn = getattr(tv, TORCHVISION_BOX_LOSSES[kind])
        impls['torchvision'] = lambda x: (fn(x['pred'], x['target']) * x[
            'weight']).sum() / avg
    return Case(f'{IOU_NAMES[kind]} {count(n)} pairs',
                lambda: box_pairs(n, device), impls, 'pred')


def dense_scores(rows: int, classes: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=g) - 4
    labels = torch.randint(0, classes, (rows, ), generator=g)
    labels[torch.rand(rows, generator=g) < 0.9] = classes  # background
    return dict(
        pred=logits.to(device).requires_grad_(),
        labels=labels.to(device),
        scores=torch.rand(rows, generator=g).to(device),
        weight=torch.ones(rows).to(device))


def focal_case(rows: int, classes: int, device: str, tv) -> Case:
    ours, mmdet = build_losses('FocalLoss')
    avg = rows * 0.1

    def call(module):
        return lambda x: module(
            x['pred'], x['labels'], x['weight'], avg_factor=avg)

    impls = {'ours': call(ours), 'mmdet': call(mmdet)}
    if tv is not None:

        def torchvision_focal(x):
            target = torch.nn.functional.one_hot(x['labels'], classes + 1)
            loss = tv.sigmoid_focal_loss(
                x['pred'], target[:, :classes].to(x['pred'].dtype))
            return (loss * x['weight'][:, None]).sum() / avg

        impls['torchvision'] = torchvision_focal
    return Case(
        f'FocalLoss {count(rows)} x {classes}', lambda: {
            k: v
            for k, v in dense_scores(rows, classes, device).items()
            if k != 'scores'
        }, impls, 'pred')


def qfl_case(rows: int, classes: int, device: str) -> Case:
    ours, mmdet = build_losses('QualityFocalLoss')
    avg = rows * 0.1

    def call(module):
        return lambda x: module(
            x['pred'], (x['labels'], x['scores']), x['weight'], avg_factor=avg)

    return Case(f'QualityFocalLoss {count(rows)} x {classes}',
                lambda: dense_scores(rows, classes, device), {
                    'ours': call(ours),
                    'mmdet': call(mmdet)
                }, 'pred')


def dfl_case(positives: int, bins: int, device: str) -> Case:
    ours, mmdet = build_losses('DistributionFocalLoss')

    def make():
        g = torch.Generator().manual_seed(0)
        rows = positives * 4
        return dict(
            pred=torch.randn(rows, bins,
                             generator=g).to(device).requires_grad_(),
            target=(torch.rand(rows, generator=g) * (bins - 1.01)).to(device),
            weight=torch.rand(rows, generator=g).to(device))

    def call(module):
        return lambda x: module(
            x['pred'], x['target'], x['weight'], avg_factor=4.0)

    return Case(f'DistributionFocalLoss {count(positives)} x 4 x {bins}', make,
                {
                    'ours': call(ours),
                    'mmdet': call(mmdet)
                }, 'pred')


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run_once(fn, inputs, leaf, device):
    inputs[leaf].grad = None
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn(inputs).backward()
    synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def peak_memory(fn, inputs, leaf, device) -> int:
    """Peak bytes allocated above the start during one forward + backward
    (see the module docstring for the method)."""
    inputs[leaf].grad = None
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        fn(inputs).backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - start
    from torch.profiler import ProfilerActivity, profile
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(inputs).backward()
    events = sorted((e.start_ns(), e.nbytes())
                    for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]')
    current = peak = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def copy_bandwidth(device: str) -> float:
    """Bytes read + written per second by a 256 MB copy, best of 5."""
    src = torch.rand(64 * 2**20, device=device)
    dst = torch.empty_like(src)
    best = float('inf')
    for _ in range(5):
        synchronize(device)
        start = time.perf_counter()
        dst.copy_(src)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * src.element_size() / best


def measure(case: Case, repeat: int, device: str) -> Dict[str, dict]:
    inputs = case.make_inputs()
    names = list(case.impls)
    for name in names:  # warm-up
        run_once(case.impls[name], inputs, case.leaf, device)
    times = {name: ([], []) for name in names}
    for _ in range(repeat):
        for name in names:
            wall, cpu = run_once(case.impls[name], inputs, case.leaf, device)
            times[name][0].append(wall)
            times[name][1].append(cpu)
    results = {}
    for name in names:
        results[name] = dict(
            wall=statistics.median(times[name][0]),
            cpu=statistics.median(times[name][1]),
            memory=peak_memory(case.impls[name], inputs, case.leaf, device))
    results['_bytes'] = case.min_bytes(inputs)
    return results


def format_table(rows: List[tuple], device: str, bandwidth: float) -> str:
    clock = 'wall' if device.startswith('cuda') else 'cpu'
    lines = [
        '| loss | ours ms | mmdet ms | speed-up vs mmdet | '
        'memory vs mmdet (MB) | torchvision: speed-up, memory | '
        'ours / bandwidth bound |', '|---|---|---|---|---|---|---|'
    ]
    for label, res in rows:
        ours, mmdet = res['ours'], res['mmdet']
        tv = res.get('torchvision')
        tv_text = 'n/a' if tv is None else (
            f"{tv[clock] / ours[clock]:.2f}x, "
            f"{ours['memory'] / max(tv['memory'], 1):.2f}")
        bound = res['_bytes'] / bandwidth
        lines.append(
            f"| {label} | {1e3 * ours[clock]:.2f} | {1e3 * mmdet[clock]:.2f}"
            f" | {mmdet[clock] / ours[clock]:.2f}x | "
            f"{ours['memory'] / max(mmdet['memory'], 1):.2f} "
            f"({ours['memory'] / 2**20:.1f} / {mmdet['memory'] / 2**20:.1f})"
            f" | {tv_text} | {ours[clock] / bound:.1f} |")
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads (default 1: stable on a shared machine)')
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument(
        '--only',
        nargs='+',
        choices=['iou', 'giou', 'diou', 'ciou', 'focal', 'qfl', 'dfl'],
        help='benchmark these losses only')
    parser.add_argument(
        '--no-compiled',
        action='store_true',
        help="run the IoU family's torch implementation instead of its "
        'compiled CPU kernel (what a machine without a C++ compiler runs)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='tiny sizes and 2 repeats: checks that the tool runs')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    if args.no_compiled:
        with native.disabled():
            return run(args)
    return run(args)


def run(args) -> str:
    torch.set_num_threads(args.threads)
    device = args.device
    tv = torchvision_ops()
    if args.quick:
        box_sizes, dense, positives, repeat = [512], (1000, 8), 200, 2
    else:
        box_sizes, dense, positives = [20000, 200000], (200000, 80), 50000
        repeat = args.repeat
    wanted = args.only or [
        'iou', 'giou', 'diou', 'ciou', 'focal', 'qfl', 'dfl'
    ]
    cases = []
    for kind in ('iou', 'giou', 'diou', 'ciou'):
        if kind in wanted:
            cases += [iou_case(kind, n, device, tv) for n in box_sizes]
    if 'focal' in wanted:
        cases.append(focal_case(*dense, device, tv))
    if 'qfl' in wanted:
        cases.append(qfl_case(*dense, device))
    if 'dfl' in wanted:
        cases.append(dfl_case(positives, 17, device))
    bandwidth = copy_bandwidth(device)
    rows = []
    for case in cases:
        rows.append((case.label, measure(case, repeat, device)))
        print(f'measured {case.label}', file=sys.stderr, flush=True)
    header = (f'device {device}, {torch.get_num_threads()} thread(s), torch '
              f'{torch.__version__}, median of {repeat}; copy bandwidth '
              f'{bandwidth / 1e9:.1f} GB/s; torchvision '
              f"{'loaded' if tv is not None else 'not loadable here'}")
    if not device.startswith('cuda'):
        compiled = native.iou_family_kernel(torch.float32) is not None
        header += (
            '; IoU family: ' +
            ('compiled CPU kernel' if compiled else 'torch implementation'))
    table = header + '\n\n' + format_table(rows, device, bandwidth)
    print(table)
    return table


if __name__ == '__main__':
    main()
