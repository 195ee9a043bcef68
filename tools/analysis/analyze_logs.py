"""Curves and summaries of mmengine json training logs; mmdet's
tools/analysis_tools/analyze_logs.py flags, for one run or several.

    python tools/analysis/analyze_logs.py plot_curve LOG [LOG ...]
        [--keys loss loss_bbox coco/bbox_mAP] [--legend A B] [--title T]
        [--out curves.png]
    python tools/analysis/analyze_logs.py cal_train_time LOG [LOG ...]
        [--include-outliers]
    python tools/analysis/analyze_logs.py summary LOG [LOG ...]
        [--legend A B] [--metric coco/bbox_mAP] [--out summary.md]

A LOG is a ``<timestamp>.json`` file or a work dir (its json logs, resumed
runs merged; a session without one is read from its ``scalars.json``).
``plot_curve`` draws one panel per key (loss terms against the iteration,
metrics against the epoch), one line per run; ``summary`` prints a markdown
table of the best and last metric and the mean time per iteration of each
run.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmdet_losses.visualization.logs import (RunLog, load_run, plot_curves,
                                             summarize_run, summary_table,
                                             train_time_stats)


def _add_logs_and_legend(parser) -> None:
    parser.add_argument(
        'json_logs',
        nargs='+',
        help='json logs (<timestamp>.json) or work dirs, one per run')
    parser.add_argument(
        '--legend',
        nargs='+',
        help='a name per run (default: the work dir names)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='task', required=True)

    plot = commands.add_parser('plot_curve', help='plot loss/metric curves')
    _add_logs_and_legend(plot)
    plot.add_argument(
        '--keys',
        nargs='+',
        help='keys to plot (default: every loss term and the main mAP)')
    plot.add_argument('--title', default='', help='title of the figure')
    plot.add_argument(
        '--out',
        default='curves.png',
        help='image to write (.png, .svg, .pdf); default curves.png')

    timing = commands.add_parser(
        'cal_train_time', help='average time per training iteration')
    _add_logs_and_legend(timing)
    timing.add_argument(
        '--include-outliers',
        action='store_true',
        help='include the first record of every epoch')

    summary = commands.add_parser(
        'summary', help='table of best mAP and time per iteration')
    _add_logs_and_legend(summary)
    summary.add_argument(
        '--metric',
        help='metric to rank by (default: coco/bbox_mAP, pascal_voc/mAP, '
        'dota/mAP, or the first *mAP)')
    summary.add_argument('--include-outliers', action='store_true')
    summary.add_argument('--out', help='also write the table to this file')
    return parser.parse_args(argv)


def load_runs(paths: Sequence[str],
              legend: Optional[Sequence[str]] = None) -> List[RunLog]:
    if legend is not None and len(legend) != len(paths):
        raise ValueError(f'--legend names {len(legend)} runs but '
                         f'{len(paths)} logs were given')
    return [
        load_run(path, legend[i] if legend else None)
        for i, path in enumerate(paths)
    ]


def cal_train_time(runs: Sequence[RunLog],
                   include_outliers: bool = False) -> List[str]:
    lines = []
    for run in runs:
        stats = train_time_stats(run, include_outliers)
        lines.append(f'-----Analyze train time of {run.name}-----')
        if len(stats['epoch_means']) > 1:
            slowest, fastest = stats['slowest_epoch'], stats['fastest_epoch']
            lines.append(f'slowest epoch {slowest}, average time is '
                         f'{stats["epoch_means"][slowest]:.4f} s/iter')
            lines.append(f'fastest epoch {fastest}, average time is '
                         f'{stats["epoch_means"][fastest]:.4f} s/iter')
            lines.append('time std over epochs is '
                         f'{stats["std_over_epochs"]:.4f}')
        lines.append(f'average iter time: {stats["mean"]:.4f} s/iter')
    print('\n'.join(lines))
    return lines


def main(argv=None):
    args = parse_args(argv)
    runs = load_runs(args.json_logs, args.legend)
    if args.task == 'plot_curve':
        out = plot_curves(runs, args.out, args.keys, args.title)
        print(f'wrote {out}')
        return out
    if args.task == 'cal_train_time':
        return cal_train_time(runs, args.include_outliers)
    rows = [
        summarize_run(run, args.metric, args.include_outliers) for run in runs
    ]
    table = summary_table(rows)
    print(table)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table + '\n')
        print(f'wrote {args.out}')
    return table


if __name__ == '__main__':
    main()
