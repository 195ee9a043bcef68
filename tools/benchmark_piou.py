"""Forward + backward time and peak memory of the PIoU loss on a CPU: the
chunked implementation (bounded memory, analytic backward) against the
dense one (every pixel term in memory at once, autograd), in one process
on the same inputs.

    python tools/benchmark_piou.py                  # 1k and 10k pairs
    python tools/benchmark_piou.py --pairs 1000 --growth-sides 10 100 1000

Inputs: DOTA-like target boxes (long side log-uniform in 8 to 160 px,
aspect ratio 1 to 5, any angle, as tools/benchmark_rotated_iou.py) and
predictions perturbed from them (centre up to 10% of the sides, sides
x0.8 to x1.25, angle up to 0.2 rad), float32, seeded. The loss is summed
and backpropagated to the predictions. The second table grows the boxes
(``s x s/2`` pairs) to show how memory follows box size.

Time: median of ``--repeat`` runs, the two methods alternating. Peak
memory: the growth of the process's peak resident set size over one run,
read from /proc/self/status (VmHWM, reset through /proc/self/clear_refs
after malloc_trim has returned freed memory to the system), so Linux only.
It counts every allocation of the run, torch's included. The dense method
is skipped where its pixel terms exceed ``--dense-limit``.

``--threads`` sets torch's intra-op threads (default 1: on a shared machine
two threads can run slower than one). Times on a loaded machine are
pessimistic; the ratios are the numbers to read.
"""
import argparse
import ctypes
import math
import statistics
import time

import torch

from mmdet_losses.functional.piou import piou_loss, pixel_hull


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument(
        '--growth-sides',
        type=float,
        nargs='*',
        default=[10, 30, 100, 300, 1000],
        help='box sides of the memory-growth table (empty: skip it)')
    parser.add_argument('--growth-pairs', type=int, default=20)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--dense-limit',
        type=float,
        default=4e7,
        help='largest number of pixel terms the dense method is run on')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def dota_like_pairs(n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    rand = torch.rand(n, 5, generator=gen)
    long_side = torch.exp(math.log(8) + rand[:, 2] * math.log(20))
    ratio = 1 + 4 * rand[:, 3]
    target = torch.stack(
        (rand[:, 0] * 1024, rand[:, 1] * 1024, long_side, long_side / ratio,
         (rand[:, 4] - 0.5) * math.pi),
        dim=1)
    return perturb(target, gen), target


def sized_pairs(n: int, side: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    target = torch.stack((torch.full((n, ), 1000.), torch.full(
        (n, ), 1000.), torch.full((n, ), side), torch.full(
            (n, ), side / 2), (torch.rand(n, generator=gen) - 0.5) * math.pi),
                         dim=1)
    return perturb(target, gen), target


def perturb(target: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    noise = torch.rand(target.shape, generator=gen) * 2 - 1
    pred = target.clone()
    pred[:, :2] += 0.1 * noise[:, :2] * target[:, 2:4]
    pred[:, 2:4] *= torch.exp(math.log(1.25) * noise[:, 2:4])
    pred[:, 4] += 0.2 * noise[:, 4]
    return pred


def _status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{key} not in /proc/self/status')


_LIBC = ctypes.CDLL('libc.so.6')


def peak_mb(fn) -> float:
    """Growth of the peak resident set size while ``fn`` runs, in MB."""
    _LIBC.malloc_trim(0)
    before = _status_kb('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS
    fn()
    return (_status_kb('VmHWM') - before) / 1024


def forward_backward(pred, target, method):

    def run():
        p = pred.clone().requires_grad_()
        piou_loss(p, target, method=method).sum().backward()
        return p.grad

    return run


def measure(pred, target, methods, repeat):
    """{method: (median seconds, peak MB)}, the methods alternating."""
    runs = {m: forward_backward(pred, target, m) for m in methods}
    memory = {m: peak_mb(runs[m]) for m in methods}
    times = {m: [] for m in methods}
    for _ in range(repeat):
        for m in methods:
            start = time.perf_counter()
            runs[m]()
            times[m].append(time.perf_counter() - start)
    return {m: (statistics.median(times[m]), memory[m]) for m in methods}


def pixel_terms(pred, target) -> int:
    _, _, nx, ny = pixel_hull(pred, target)
    return int((nx * ny).sum())


def fmt(value, spec):
    return 'skipped' if value is None else format(value, spec)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    # warm up kernels and the allocator outside the measurements
    warm = dota_like_pairs(50, args.seed + 1)
    for method in ('chunked', 'dense'):
        forward_backward(*warm, method)()

    print(f'\nPIoU loss forward + backward on CPU, float32, '
          f'{args.threads} thread(s), median of {args.repeat}\n')
    print('| pairs | pixel terms | chunked (s) | dense (s) | '
          'dense / chunked time | chunked peak (MB) | dense peak (MB) | '
          'dense / chunked memory |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|')
    for n in args.pairs:
        pred, target = dota_like_pairs(n, args.seed)
        terms = pixel_terms(pred, target)
        methods = ['chunked'
                   ] + (['dense'] if terms <= args.dense_limit else [])
        res = measure(pred, target, methods, args.repeat)
        t_c, m_c = res['chunked']
        t_d, m_d = res.get('dense', (None, None))
        print(f'| {n:,} | {terms / 1e6:.1f} M | {t_c:.2f} | {fmt(t_d, ".2f")}'
              f' | {fmt(t_d and t_d / t_c, ".1f")} | {m_c:.0f} | '
              f'{fmt(m_d, ".0f")} | {fmt(m_d and m_d / max(m_c, 1), ".0f")} |')

    if not args.growth_sides:
        return
    print(f'\nMemory as boxes grow: {args.growth_pairs} pairs of s x s/2 '
          f'boxes\n')
    print('| side s (px) | pixel terms | chunked (s) | chunked peak (MB) | '
          'dense peak (MB) |')
    print('|---:|---:|---:|---:|---:|')
    for side in args.growth_sides:
        pred, target = sized_pairs(args.growth_pairs, side, args.seed)
        terms = pixel_terms(pred, target)
        methods = ['chunked'
                   ] + (['dense'] if terms <= args.dense_limit else [])
        res = measure(pred, target, methods, 1)
        t_c, m_c = res['chunked']
        m_d = res.get('dense', (None, None))[1]
        print(f'| {side:g} | {terms / 1e6:.2f} M | {t_c:.2f} | {m_c:.0f} | '
              f'{fmt(m_d, ".0f")} |')


if __name__ == '__main__':
    main()
