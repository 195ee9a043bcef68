"""Cut DOTA images into overlapping square patches with mmrotate's splitter.

DOTA's images run up to 20,000 pixels a side; detectors train and test on
patches. This runs mmrotate's own ``tools/data/dota/split/img_split.py``
(shipped in the installed ``mmrotate`` package) with mmrotate's
single-scale setting (1024 px windows, 200 px gap, objects kept where at
least 70% of their area lies in the window, patches padded with the mean
colour), so that the patches are exactly those mmrotate's configs and model
zoo use, from DOTA's raw layout:

    python tools/data/dota_split.py --src data/DOTA/train data/DOTA/val \\
        --out data/split_ss_dota/trainval --nproc 8
    python tools/data/dota_split.py --src data/DOTA/test \\
        --out data/split_ss_dota/test --nproc 8

Input: directories holding ``images/`` and, for labelled sets,
``labelTxt/``. Output: ``<out>/images/`` and ``<out>/annfiles/`` (empty for
an unlabelled set), the layout of mmrotate's DOTA configs. Other arguments
after ``--`` go to mmrotate's splitter unchanged (its ``--help`` lists them).
"""
import argparse
import os.path as osp
import runpy
import sys
from typing import List, Optional


def img_split_path() -> str:
    """mmrotate's splitter inside the installed package."""
    import mmrotate
    path = osp.join(
        osp.dirname(mmrotate.__file__), '.mim', 'tools', 'data', 'dota',
        'split', 'img_split.py')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmrotate\'s DOTA splitter is not at {path}; install mmrotate '
            'from a wheel that ships its tools (mmrotate-dev==1.0.1 does)')
    return path


def splitter_argv(src: List[str], out: str, size: int, gap: int, nproc: int,
                  extra: List[str]) -> List[str]:
    """The arguments of mmrotate's ``img_split.py`` for ``src`` dirs."""
    img_dirs, ann_dirs = [], []
    for root in src:
        images = osp.join(root, 'images')
        if not osp.isdir(images):
            raise FileNotFoundError(f'{images} does not exist: --src takes '
                                    'DOTA directories holding images/ (and '
                                    'labelTxt/ for labelled sets)')
        img_dirs.append(images)
        labels = osp.join(root, 'labelTxt')
        ann_dirs.append(labels if osp.isdir(labels) else None)
    if any(ann_dirs) and not all(ann_dirs):
        raise ValueError('mix of labelled and unlabelled --src directories: '
                         f'{src} (split them separately)')
    if osp.exists(out):
        raise FileExistsError(f'{out} exists already; mmrotate\'s splitter '
                              'writes only to a new directory')
    argv = ['--img-dirs', *img_dirs]
    if all(ann_dirs):
        argv += ['--ann-dirs', *ann_dirs]
    argv += [
        '--sizes',
        str(size), '--gaps',
        str(gap), '--rates', '1.0', '--img-rate-thr', '0.6', '--iof-thr',
        '0.7', '--padding-value', '104', '116', '124', '--save-dir', out,
        '--save-ext', '.png', '--nproc',
        str(nproc)
    ]
    return argv + extra


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra: List[str] = []
    if '--' in argv:
        cut = argv.index('--')
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--src', nargs='+', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--gap', type=int, default=200)
    parser.add_argument('--nproc', type=int, default=8)
    args = parser.parse_args(argv)
    split_argv = splitter_argv(args.src, args.out, args.size, args.gap,
                               args.nproc, extra)
    script = img_split_path()
    saved = sys.argv
    sys.argv = [script, *split_argv]
    try:
        runpy.run_path(script, run_name='__main__')
    finally:
        sys.argv = saved


if __name__ == '__main__':
    main()
