"""Ground truth beside predictions, for horizontal and rotated boxes.

    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    python tools/analysis/draw_detections.py CONFIG results.pkl
        [--out-file detections.png] [--num-images 8] [--score-thr 0.3]
        [--max-per-image K] [--ncols 2] [--cfg-options KEY=VALUE ...]

The ground truth comes from the config's test dataset (its boxes as the
dataset stores them: xyxy, or DOTA's 8-point polygons), the predictions
from the pickle ``tools/test.py --out`` dumps: ``(N, 4)`` xyxy boxes are
drawn as rectangles, ``(N, 5)`` rotated boxes ``(cx, cy, w, h, t)`` as
their 4-corner polygons.
"""
import argparse

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the config tools/test.py ran')
    parser.add_argument(
        'predictions', help='the pickle of tools/test.py --out')
    parser.add_argument(
        '--out-file',
        default='detections.png',
        help='image to write (.png, .svg, .pdf)')
    parser.add_argument(
        '--num-images',
        type=int,
        default=8,
        help='the first N images of the pickle')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='predictions below this score are not drawn')
    parser.add_argument(
        '--max-per-image',
        type=int,
        help='draw at most this many predictions per image, best first')
    parser.add_argument(
        '--ncols', type=int, default=2, help='image pairs per row')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. the test data root')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    if args.num_images < 1:
        raise ValueError(f'--num-images must be >= 1, got {args.num_images}')
    if args.max_per_image is not None and args.max_per_image < 0:
        raise ValueError('--max-per-image must be >= 0, got '
                         f'{args.max_per_image}')
    from mmdet_losses.utils.runner_setup import load_config
    from mmdet_losses.visualization.detections import draw_prediction_file
    cfg = load_config(args.config, args.cfg_options)
    out = draw_prediction_file(
        cfg,
        args.predictions,
        args.out_file,
        num_images=args.num_images,
        score_thr=args.score_thr,
        ncols=args.ncols,
        max_per_image=args.max_per_image)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
