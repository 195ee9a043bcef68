"""Loss landscapes of the package's losses, and their gradient magnitudes.

    python tools/analysis/plot_losses.py [--out-dir DIR]
        [--which classification regression] [--formats png svg]

Writes ``loss_classification.<fmt>`` (BCE, focal loss with gamma 0, 0.5, 1,
2, 5, QFL with several beta, and MSE through a sigmoid, against the
predicted probability of a positive and of a negative, and against the
logit, where MSE of the sigmoid is not convex) and
``loss_regression.<fmt>`` (L1, SmoothL1, IoU, GIoU, DIoU and CIoU against
the centre offset, the scale and the aspect-ratio change of a prediction of
a unit square target). See :mod:`mmdet_losses.visualization.loss_landscape`.
"""
import argparse
import os.path as osp
from typing import List

WHICH = ('classification', 'regression')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out-dir', default='work_dirs/loss_landscapes')
    parser.add_argument(
        '--which', nargs='+', choices=WHICH, default=list(WHICH))
    parser.add_argument(
        '--formats',
        nargs='+',
        choices=('png', 'svg', 'pdf'),
        default=['png', 'svg'])
    return parser.parse_args(argv)


def main(argv=None) -> List[str]:
    args = parse_args(argv)
    from mmdet_losses.visualization.loss_landscape import (
        plot_classification_losses, plot_regression_losses)
    plotters = dict(
        classification=plot_classification_losses,
        regression=plot_regression_losses)
    written = []
    for which in args.which:
        for fmt in args.formats:
            out = osp.join(args.out_dir, f'loss_{which}.{fmt}')
            written.append(plotters[which](out))
            print(f'wrote {out}')
    return written


if __name__ == '__main__':
    main()
