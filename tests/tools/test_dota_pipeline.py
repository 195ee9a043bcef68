"""The README's DOTA recipe, command for command, on a tiny raw DOTA tree:
split train + val and test into patches (mmrotate's splitter), train with
``tools/dist_train.sh CONFIG 2`` (gloo on a CPU), test on the labelled
patches (DOTA mAP), and test on the unlabelled test patches with
``--dota-task1`` (whole-image Task1 files in the run's work directory).

The commands run from a directory holding ``data/`` and links to the
repository's ``tools/`` and ``configs/``, so that the README's relative
paths (``data/DOTA/...``, ``data/split_ss_dota/``, the config's
``data_root``, ``work_dirs/<name>/``) are used unchanged; only the model,
the image size and the schedule are shrunk, with ``--cfg-options``.
"""
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import cv2
import numpy as np
from helpers import ROOT

CONFIG = 'configs/rotated_retinanet/' \
    'rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota.py'
NAME = 'rotated-retinanet-rbox-le90_r50_fpn_piou_1x_dota'
# DOTA-v1.0's classes, in mmrotate's DOTADataset order
CLASSES = ('plane', 'baseball-diamond', 'bridge', 'ground-track-field',
           'small-vehicle', 'large-vehicle', 'ship', 'tennis-court',
           'basketball-court', 'storage-tank', 'soccer-ball-field',
           'roundabout', 'harbor', 'swimming-pool', 'helicopter')
IMG_SIZE = 300
PATCH, GAP = 128, 32
# 300 px in 128 px windows 96 px apart: starts 0, 96, 172 on each axis
PATCHES_PER_IMAGE = 9
RAW = dict(
    train=['P0001', 'P0002', 'P0003'], val=['P0004'], test=['P0005', 'P0006'])

# a R-18-FPN with 32 channels on 128 px patches, one epoch; every box kept
# (an untrained model scores low) but few per image, so that the rotated
# NMS and the mAP stay cheap
SHRINK = [
    'model.backbone.depth=18',
    'model.backbone.init_cfg=None',
    'model.neck.in_channels=[64,128,256,512]',
    'model.neck.out_channels=32',
    'model.bbox_head.in_channels=32',
    'model.bbox_head.feat_channels=32',
    'model.bbox_head.stacked_convs=1',
    'model.test_cfg.score_thr=0',
    'model.test_cfg.nms_pre=100',
    'model.test_cfg.max_per_img=20',
    f'train_dataloader.dataset.pipeline.3.scale=({PATCH},{PATCH})',
    f'val_dataloader.dataset.pipeline.1.scale=({PATCH},{PATCH})',
    f'test_dataloader.dataset.pipeline.1.scale=({PATCH},{PATCH})',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'train_cfg.max_epochs=1',
    'default_hooks.logger.interval=1',
    'randomness.seed=0',
]


def write_raw_dota(root, split, names, labelled, seed):
    """``root/split/images/*.png`` (and ``labelTxt/*.txt``): rotated
    rectangles of three classes, one colour each, in DOTA's label format
    (header lines, 8 corner coordinates, class name, difficulty)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split, 'images'))
    if labelled:
        os.makedirs(osp.join(root, split, 'labelTxt'))
    colours = {
        'plane': (255, 255, 255),
        'small-vehicle': (0, 0, 255),
        'ship': (0, 255, 0)
    }
    for name in names:
        img = np.full((IMG_SIZE, IMG_SIZE, 3), 60, np.uint8)
        lines = ['imagesource:GoogleEarth', 'gsd:0.5']
        for k in range(6):
            cx, cy = rng.uniform(30, IMG_SIZE - 30, 2)
            w, h = rng.uniform(16, 40), rng.uniform(10, 24)
            corners = cv2.boxPoints(((cx, cy), (w, h), rng.uniform(-90, 90)))
            cls = list(colours)[k % 3]
            cv2.fillPoly(img, [corners.round().astype(np.int32)], colours[cls])
            difficult = int(k == 5)
            lines.append(' '.join(f'{v:.1f}' for v in corners.ravel()) +
                         f' {cls} {difficult}')
        cv2.imwrite(osp.join(root, split, 'images', name + '.png'), img)
        if labelled:
            with open(osp.join(root, split, 'labelTxt', name + '.txt'),
                      'w') as f:
                f.write('\n'.join(lines) + '\n')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def run(cwd, command, check=True):
    """A README command (``python`` is this interpreter) in ``cwd``."""
    if command[0] == 'python':
        command = [sys.executable, *command[1:]]
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=free_port(),
        # the CPU recipe (gloo) on any machine: two processes on one GPU
        # would fail
        CUDA_VISIBLE_DEVICES='',
        # the tiny model runs no faster on two threads per process
        OMP_NUM_THREADS='1')
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output[-5000:]
    return result.returncode, output


def patch_names(folder, ext):
    return sorted(f[:-len(ext)] for f in os.listdir(folder) if f.endswith(ext))


def task1_lines(folder):
    """{class: lines} of the Task1 files in ``folder``."""
    return {
        cls: open(osp.join(folder, f'Task1_{cls}.txt')).read().splitlines()
        for cls in CLASSES
    }


def test_readme_dota_recipe(tmp_path):
    cwd = str(tmp_path)
    os.symlink(osp.join(ROOT, 'tools'), osp.join(cwd, 'tools'))
    os.symlink(osp.join(ROOT, 'configs'), osp.join(cwd, 'configs'))
    raw = osp.join(cwd, 'data', 'DOTA')
    for seed, split in enumerate(RAW):
        write_raw_dota(raw, split, RAW[split], split != 'test', seed)

    # 1. split (the README's commands, with 128 px windows for 300 px images)
    small = ['--size', str(PATCH), '--gap', str(GAP)]
    run(cwd, [
        'python', 'tools/data/dota_split.py', '--src', 'data/DOTA/train',
        'data/DOTA/val', '--out', 'data/split_ss_dota/trainval', '--nproc',
        '2', *small
    ])
    run(cwd, [
        'python', 'tools/data/dota_split.py', '--src', 'data/DOTA/test',
        '--out', 'data/split_ss_dota/test', '--nproc', '2', *small
    ])
    split = osp.join(cwd, 'data', 'split_ss_dota')
    trainval = patch_names(osp.join(split, 'trainval', 'images'), '.png')
    assert patch_names(osp.join(split, 'trainval', 'annfiles'),
                       '.txt') == trainval
    test_patches = patch_names(osp.join(split, 'test', 'images'), '.png')
    for patches, names in ((trainval, RAW['train'] + RAW['val']),
                           (test_patches, RAW['test'])):
        assert len(patches) == PATCHES_PER_IMAGE * len(names)
        # mmrotate's patch names: <image>__<size>__<x>___<y>
        assert {
            re.fullmatch(rf'(\w+)__{PATCH}__\d+___\d+', p).group(1)
            for p in patches
        } == set(names)
    # labels moved into the patches' coordinates: some patch has objects
    annfiles = osp.join(split, 'trainval', 'annfiles')
    assert any(
        open(osp.join(annfiles, p + '.txt')).read().strip() for p in trainval)

    # 2. train on 2 processes (no CUDA: tools/train.py picks gloo)
    _, out = run(cwd, [
        'tools/dist_train.sh', CONFIG, '2', '--auto-scale-lr', '--cfg-options',
        *SHRINK
    ])
    # 2 processes x 2 images against the config's base batch size 2
    assert 'LR is set based on batch size of 2 and the current batch ' \
        'size is 4' in out
    assert 'gloo' in out
    # validation on the trainval patches after the epoch, gathered on rank 0
    assert re.search(r'Epoch\(val\) \[1\].*dota/mAP: ', out), out[-3000:]
    work_dir = osp.join(cwd, 'work_dirs', NAME)
    checkpoint = f'work_dirs/{NAME}/epoch_1.pth'
    assert osp.isfile(osp.join(cwd, checkpoint))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')

    # 3. DOTA mAP on the labelled trainval patches
    _, out = run(cwd, [
        'python', 'tools/test.py', CONFIG, checkpoint, '--cfg-options', *SHRINK
    ])
    found = re.search(r'Epoch\(test\) \[(\d+)/\d+\].*dota/mAP: ([\d.]+)', out)
    assert found, out[-3000:]
    assert int(found.group(1)) == len(trainval)
    assert 0 <= float(found.group(2)) <= 1
    # the metric's ground truth is the patches' labels, class by class
    labels = [
        line.split(' ')[8] for p in trainval
        for line in open(osp.join(annfiles, p + '.txt')).read().splitlines()
    ]
    for cls in CLASSES:
        row = re.search(rf'\| {cls} +\| (\d+) +\|', out)
        assert row and int(row.group(1)) == labels.count(cls), cls

    # 4. test patches -> whole-image Task1 files in the run's work dir
    _, out = run(cwd, [
        'python', 'tools/test.py', CONFIG, checkpoint, '--dota-task1',
        '--cfg-options', *SHRINK
    ])
    task1 = osp.join(work_dir, 'Task1')
    assert osp.isfile(osp.join(task1, 'Task1.zip'))
    lines = task1_lines(task1)
    assert any(lines.values())
    names, corners = set(), []
    for cls_lines in lines.values():
        for line in cls_lines:
            # imgname score x1 y1 x2 y2 x3 y3 x4 y4
            fields = line.split(' ')
            assert len(fields) == 10, line
            names.add(fields[0])
            assert 0 <= float(fields[1]) <= 1
            corners.append([float(v) for v in fields[2:]])
    # merged: the raw images' names, no patch suffix ...
    assert names == set(RAW['test'])
    # ... and coordinates in the whole image (patch offsets added)
    assert np.max(corners) > PATCH

    # an existing Task1 directory stops the run before inference
    code, out = run(
        cwd, [
            'python', 'tools/test.py', CONFIG, checkpoint, '--dota-task1',
            '--cfg-options', *SHRINK
        ],
        check=False)
    assert code != 0 and 'Task1 exists already' in out

    # the same step on 2 processes gives the same Task1 files
    run(cwd, [
        'tools/dist_test.sh', CONFIG, checkpoint, '2', '--dota-task1',
        '--work-dir', 'work_dirs/dist_test', '--cfg-options', *SHRINK
    ])
    dist_lines = task1_lines(osp.join(cwd, 'work_dirs', 'dist_test', 'Task1'))
    assert {c: sorted(v) for c, v in dist_lines.items()} == \
        {c: sorted(v) for c, v in lines.items()}
