"""Speed of the rotated anchor-to-ground-truth IoU: mmrotate's calculator
against this package's pruned one.

The assigner of a rotated anchor head asks for the IoU of every anchor with
every ground-truth box. This measures, in one process and on the same
inputs, mmrotate's ``RBboxOverlaps2D`` (mmcv's ``box_iou_rotated`` on every
pair) and ``mmdet_losses.PrunedRBboxOverlaps2D`` (the same kernel, run only
on pairs whose horizontal hulls meet), checks that the two agree, and prints
the speed-up.

Anchors: those of the rotated RetinaNet configs (strides 8 to 128, octave
base scale 4, 3 scales, ratios 0.5 / 1 / 2) for a square image of the given
size: 49,104 anchors at 512 px. Ground truth: random DOTA-like boxes (sides
log-uniform in 8 to 160 px, aspect ratio 1 to 5, any angle), seeded.

    python tools/benchmark_rotated_iou.py                 # 512 px, 20 boxes
    python tools/benchmark_rotated_iou.py --sizes 512 1024 --num-gts 20 100

Times are medians of ``--repeat`` runs; on a shared machine they are
pessimistic, and the ratio is the number to read.
"""
import argparse
import os
import statistics
import time

import torch


def make_anchors(size: int) -> torch.Tensor:
    from mmrotate.models.task_modules.prior_generators import \
        FakeRotatedAnchorGenerator
    generator = FakeRotatedAnchorGenerator(
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128])
    sizes = [((size + s - 1) // s, ) * 2 for s in (8, 16, 32, 64, 128)]
    levels = generator.grid_priors(sizes, device='cpu')
    return torch.cat([level.tensor for level in levels])


def make_gts(num: int, size: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rand = torch.rand(num, 5, generator=gen)
    long_side = torch.exp(
        torch.log(torch.tensor(8.)) +
        rand[:, 2] * torch.log(torch.tensor(20.)))
    ratio = 1 + 4 * rand[:, 3]
    return torch.stack([
        rand[:, 0] * size, rand[:, 1] * size, long_side, long_side / ratio,
        (rand[:, 4] - 0.5) * torch.pi
    ],
                       dim=1)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[512])
    parser.add_argument('--num-gts', type=int, nargs='+', default=[20])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)

    from mmrotate.models.task_modules.assigners import RBboxOverlaps2D

    from mmdet_losses.models.task_modules.assigners import \
        pruned_iou_calculator as ours
    pruned = ours.PrunedRBboxOverlaps2D()
    dense = RBboxOverlaps2D()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs')
    header = (f'{"image":>6} {"anchors":>8} {"gts":>5} {"pairs kept":>10} '
              f'{"mmrotate s":>10} {"pruned s":>9} {"speed-up":>9} '
              f'{"max |diff|":>10}')
    print(header)
    print('-' * len(header))
    rows = []
    for size in args.sizes:
        anchors = make_anchors(size)
        for num in args.num_gts:
            gts = make_gts(num, size, args.seed)
            diff = (dense(gts, anchors) -
                    pruned(gts, anchors)).abs().max().item()
            dense_s = median_time(lambda: dense(gts, anchors), args.repeat)
            ours_s = median_time(lambda: pruned(gts, anchors), args.repeat)
            kept = ours._hull_pairs(*ours._hulls(gts, anchors))[0].numel()
            share = kept / (num * len(anchors))
            rows.append(dense_s / ours_s)
            print(f'{size:>6} {len(anchors):>8} {num:>5} {share:>10.2%} '
                  f'{dense_s:>10.3f} {ours_s:>9.3f} {dense_s / ours_s:>8.1f}x '
                  f'{diff:>10.1e}')
    return rows


if __name__ == '__main__':
    main()
