"""PIoU against the exact rotated IoU, by box size and angle; its small-box
bias; and where gradient descent on the PIoU loss ends.

    python tools/analysis/piou_vs_iou.py [--sizes 8 16 32 64 128]
        [--angles 0 15 30 45 60 75 90] [--pairs 200] [--k 10]
        [--descent-boxes 8] [--iters 600] [--seed 0] [--json FILE]

Boxes are ``s x s/2`` (``s`` the size), centred at random sub-pixel
positions. Prints three markdown tables:

1. **PIoU vs IoU** per size and target angle: ``--pairs`` perturbed pairs
   (centre moved up to 25% of each side, sides scaled by 0.75 to 1.33,
   angle turned by up to 0.3 rad); the exact IoU from
   ``mmcv.ops.box_iou_rotated``, PIoU with the soft and the hard union
   (float64), their mean difference and largest gap.
2. **Bias** of the soft pixel count on identical boxes: the intersection
   count falls short of the area by about ``perimeter / (k area)``, so
   PIoU of a box with itself is about ``1 - 2 perimeter / (k area)``.
3. **Descent**: from ``--descent-boxes`` perturbed boxes per size (centre
   up to 15% of the sides, sides x0.8 to x1.25, angle up to 0.15 rad),
   Adam on ``-ln PIoU`` (float64; centre and size steps scaled by the
   target's sides; lr 0.01, x0.1 at 60% and 80% of ``--iters``); the
   largest remaining error of the centre, the sides and the angle, the
   median angle error, how many boxes end within 0.5 px and 0.01 rad, and
   whether the end point scores a PIoU at least that of the target itself
   (then it is the optimum of the sampled PIoU, not a stall).
4. **Gradient by gap**: the centre gradient of the three loss forms as a
   box slides past a copy of itself, from overlapping to disjoint.
"""
import argparse
import json
import math
import time
from typing import Dict, List

import torch

from mmdet_losses.functional.piou import piou_loss, pixel_iou, pixel_overlaps


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sizes', type=float, nargs='+', default=[8, 16, 32, 64, 128])
    parser.add_argument(
        '--angles',
        type=float,
        nargs='+',
        default=[0, 15, 30, 45, 60, 75, 90],
        help='target angles in degrees')
    parser.add_argument('--pairs', type=int, default=200)
    parser.add_argument('--k', type=float, default=10.0)
    parser.add_argument(
        '--samples-per-pixel',
        type=int,
        default=1,
        help='samples per pixel side in the descent (1: the pixel grid)')
    parser.add_argument('--descent-boxes', type=int, default=8)
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='also write the numbers here')
    return parser.parse_args(argv)


def boxes_at(size: float, angle: float, n: int,
             gen: torch.Generator) -> torch.Tensor:
    """``n`` boxes ``size x size/2`` at ``angle`` (rad), random sub-pixel
    centres near (300, 300)."""
    centre = 300 + torch.rand(n, 2, generator=gen, dtype=torch.float64)
    sides = torch.tensor([size, size / 2], dtype=torch.float64).expand(n, 2)
    return torch.cat(
        (centre, sides, torch.full((n, 1), angle, dtype=torch.float64)), 1)


def perturb(target: torch.Tensor, shift: float, scale: float, turn: float,
            gen: torch.Generator) -> torch.Tensor:
    n = len(target)

    def uniform(low, high, shape):
        return low + (high - low) * torch.rand(
            shape, generator=gen, dtype=torch.float64)

    pred = target.clone()
    pred[:, :2] += uniform(-shift, shift, (n, 2)) * target[:, 2:4]
    pred[:,
         2:4] *= torch.exp(uniform(-math.log(scale), math.log(scale), (n, 2)))
    pred[:, 4] += uniform(-turn, turn, (n, ))
    return pred


def exact_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from mmcv.ops import box_iou_rotated
    return box_iou_rotated(pred.float(), target.float(), aligned=True).double()


def compare(args, gen) -> List[Dict]:
    rows = []
    for size in args.sizes:
        for degrees in args.angles:
            target = boxes_at(size, math.radians(degrees), args.pairs, gen)
            pred = perturb(target, 0.25, 4 / 3, 0.3, gen)
            iou = exact_iou(pred, target)
            soft = pixel_iou(pred, target, k=args.k)
            hard = pixel_iou(pred, target, k=args.k, union='hard')
            rows.append(
                dict(
                    size=size,
                    angle=degrees,
                    iou=iou.mean().item(),
                    piou_soft=soft.mean().item(),
                    piou_hard=hard.mean().item(),
                    diff_soft=(soft - iou).mean().item(),
                    diff_hard=(hard - iou).mean().item(),
                    max_gap=(soft - iou).abs().max().item()))
    return rows


def bias(args, gen) -> List[Dict]:
    rows = []
    for size in args.sizes:
        for degrees in args.angles:
            box = boxes_at(size, math.radians(degrees), 16, gen)
            inter, _, _ = pixel_overlaps(box, box, k=args.k)
            area = size * size / 2
            perimeter = 3 * size
            rows.append(
                dict(
                    size=size,
                    angle=degrees,
                    count_deficit=(1 - inter / area).mean().item(),
                    perimeter_over_k_area=perimeter / (args.k * area),
                    one_minus_piou=(
                        1 - pixel_iou(box, box, k=args.k)).mean().item()))
    return rows


def descent(args, gen) -> List[Dict]:
    rows = []
    for size in args.sizes:
        n = args.descent_boxes
        angles = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 -
                  1) * (
                      math.pi / 2)
        target = torch.cat([boxes_at(size, a.item(), 1, gen) for a in angles])
        start = perturb(target, 0.15, 1.25, 0.15, gen)
        scale = torch.cat((target[:, 2:4], target[:, 2:4], torch.ones(n, 1)),
                          1)
        delta = torch.zeros_like(start, requires_grad=True)
        optim = torch.optim.Adam([delta], lr=0.01)
        sched = torch.optim.lr_scheduler.MultiStepLR(
            optim, [int(args.iters * 0.6),
                    int(args.iters * 0.8)], 0.1)
        for _ in range(args.iters):
            optim.zero_grad()
            piou_loss(
                start + delta * scale,
                target,
                k=args.k,
                samples_per_pixel=args.samples_per_pixel).sum().backward()
            optim.step()
            sched.step()
        end = (start + delta * scale).detach()
        err = (end - target).abs()
        err[:, 4] = torch.remainder(end[:, 4] - target[:, 4] + math.pi / 2,
                                    math.pi).sub(math.pi / 2).abs()
        within = (err[:, :4].amax(1) <= 0.5) & (err[:, 4] <= 0.01)
        sampling = dict(k=args.k, samples_per_pixel=args.samples_per_pixel)
        at_end = pixel_iou(end, target, **sampling)
        at_target = pixel_iou(target, target, **sampling)
        rows.append(
            dict(
                size=size,
                boxes=n,
                centre=err[:, :2].max().item(),
                sides=err[:, 2:4].max().item(),
                angle=err[:, 4].max().item(),
                median_angle=err[:, 4].median().item(),
                within=int(within.sum()),
                start_centre=(start - target)[:, :2].abs().max().item(),
                optimum=bool((at_end >= at_target - 1e-9).all())))
    return rows


def gradient_by_gap(args) -> List[Dict]:
    """d(loss)/d(cx) of each loss form for a 32 x 16 box slid along its w
    side past a copy of itself (gap < 0: overlap)."""
    target = torch.tensor([[300.3, 300.6, 32., 16., 0.]], dtype=torch.float64)
    rows = []
    for gap in (-16, -8, -2, 0, 1, 2):
        pred = target.clone()
        pred[0, 0] += 32 + gap
        row = dict(gap=gap, piou=pixel_iou(pred, target, k=args.k).item())
        for mode in ('log', 'linear', 'official'):
            p = pred.clone().requires_grad_()
            piou_loss(p, target, k=args.k, mode=mode).sum().backward()
            row[mode] = p.grad[0, 0].item()
        rows.append(row)
    return rows


def print_tables(args, comparison, bias_rows, descent_rows,
                 gradient_rows) -> None:
    print(f'\nPIoU (k = {args.k:g}) against the exact IoU of '
          f'mmcv.ops.box_iou_rotated, {args.pairs} perturbed pairs per '
          f'cell, boxes s x s/2\n')
    print('| size | mean IoU | mean PIoU (soft) | mean PIoU (hard) | '
          'PIoU - IoU (soft) | PIoU - IoU (hard) | max abs gap (soft) |')
    print('|---:|---:|---:|---:|---:|---:|---:|')
    for size in args.sizes:
        cells = [r for r in comparison if r['size'] == size]

        def mean(key):
            return sum(r[key] for r in cells) / len(cells)

        print(f"| {size:g} | {mean('iou'):.3f} | {mean('piou_soft'):.3f} | "
              f"{mean('piou_hard'):.3f} | {mean('diff_soft'):+.3f} | "
              f"{mean('diff_hard'):+.3f} | "
              f"{max(r['max_gap'] for r in cells):.3f} |")
    print('\nMean PIoU (soft) - IoU by size (rows) and target angle '
          '(columns, degrees)\n')
    print('| size | ' + ' | '.join(f'{a:g}' for a in args.angles) + ' |')
    print('|---:|' + '---:|' * len(args.angles))
    for size in args.sizes:
        cells = {r['angle']: r for r in comparison if r['size'] == size}
        print(f'| {size:g} | ' + ' | '.join(f"{cells[a]['diff_soft']:+.3f}"
                                            for a in args.angles) + ' |')
    print('\nSmall-box bias, identical boxes s x s/2 (mean over angles): '
          'intersection count deficit 1 - I/(w h) against '
          'perimeter/(k w h), and 1 - PIoU (soft)\n')
    print('| size | 1 - I/(w h) | perimeter/(k w h) | 1 - PIoU | '
          '2 perimeter/(k w h) |')
    print('|---:|---:|---:|---:|---:|')
    for size in args.sizes:
        cells = [r for r in bias_rows if r['size'] == size]
        deficit = sum(r['count_deficit'] for r in cells) / len(cells)
        gap = sum(r['one_minus_piou'] for r in cells) / len(cells)
        ratio = cells[0]['perimeter_over_k_area']
        print(f'| {size:g} | {deficit:.4f} | {ratio:.4f} | {gap:.4f} | '
              f'{2 * ratio:.4f} |')
    print(f'\nGradient descent on -ln PIoU ({args.iters} Adam steps): '
          'largest remaining error over the boxes\n')
    print('| size | boxes | start centre err (px) | centre (px) | '
          'sides (px) | angle (rad) | median angle (rad) | '
          'boxes within 0.5 px and 0.01 rad | end PIoU >= target PIoU |')
    print('|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|')
    for r in descent_rows:
        print(f"| {r['size']:g} | {r['boxes']} | {r['start_centre']:.2f} | "
              f"{r['centre']:.3f} | {r['sides']:.3f} | {r['angle']:.4f} | "
              f"{r['median_angle']:.4f} | {r['within']}/{r['boxes']} | "
              f"{'yes' if r['optimum'] else 'no'} |")
    print('\nGradient of each loss form with respect to the centre, 32 x 16 '
          'box slid past a copy of itself along w (negative gap: overlap)\n')
    print('| gap (px) | PIoU | log: -ln PIoU | linear: 1 - PIoU | '
          'official: -2 ln clamp(PIoU, 0.1) |')
    print('|---:|---:|---:|---:|---:|')
    for r in gradient_rows:
        print(f"| {r['gap']} | {r['piou']:.2e} | {r['log']:+.4f} | "
              f"{r['linear']:+.4f} | {r['official']:+.4f} |")


def main(argv=None) -> None:
    args = parse_args(argv)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    comparison = compare(args, gen)
    bias_rows = bias(args, gen)
    descent_rows = descent(args, gen)
    gradient_rows = gradient_by_gap(args)
    print_tables(args, comparison, bias_rows, descent_rows, gradient_rows)
    print(f'\n({time.time() - start:.0f} s)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    args=vars(args),
                    comparison=comparison,
                    bias=bias_rows,
                    descent=descent_rows,
                    gradient=gradient_rows),
                f,
                indent=1)


if __name__ == '__main__':
    main()
