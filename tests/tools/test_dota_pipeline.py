"""The DOTA workflow as a user runs it, on tiny data, one subprocess per
tool: split large images into patches -> train -> test (with --out and
--show-dir) -> merge the patch detections into Task1 files and evaluate.
Plus the split tool's own geometry."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import shapely
from helpers import ROOT

from mmdet_losses.datasets.dota_io import load_dota_txt
from mmdet_losses.datasets.synthetic_rotated import (CLASSES,
                                                     generate_synthetic_dota)

SPLIT = osp.join(ROOT, 'tools', 'data', 'dota_split.py')
MERGE = osp.join(ROOT, 'tools', 'data', 'dota_merge.py')
CLASS_LIST = ','.join(CLASSES)


def run(*command, timeout=300):
    # the tiny models run no faster on two threads, and a second thread
    # only spins when the cores are busy
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *command],
                            capture_output=True,
                            text=True,
                            timeout=timeout,
                            cwd=ROOT,
                            env=env)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    return result.stdout + result.stderr


def dota_source(tmp_path, split, count):
    """A DOTA-layout directory (images/, labelTxt/) of synthetic images."""
    generated = generate_synthetic_dota(
        str(tmp_path / 'generated'), num_train=3, num_val=1, verbose=False)
    source = tmp_path / split
    shutil.copytree(osp.join(generated, split, 'images'), source / 'images')
    shutil.copytree(
        osp.join(generated, split, 'labelTxt'), source / 'labelTxt')
    assert len(list((source / 'images').iterdir())) == count
    return source


def test_split_windows_and_object_geometry(tmp_path):
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    try:
        from dota_split import window_starts
    finally:
        sys.path.pop(0)
    assert window_starts(1024, 1024, 200) == [0]
    assert window_starts(500, 1024, 200) == [0]
    assert window_starts(2000, 1024, 200) == [0, 824, 976]
    with pytest.raises(ValueError, match='gap'):
        window_starts(2000, 100, 100)

    source = dota_source(tmp_path, 'train', 3)
    out = tmp_path / 'split'
    run(SPLIT, '--src', str(source), '--out', str(out), '--sizes', '160',
        '--gaps', '60', '--classes', CLASS_LIST, '--nproc', '2')
    patches = sorted(p.stem for p in (out / 'images').iterdir())
    # 256 px images, 160 px windows every 100 px: starts 0 and 96
    assert len(patches) == 3 * 4
    assert (cv2.imread(str(out / 'images' /
                           f'{patches[0]}.png')).shape == (160, 160, 3))
    truncated = 0
    for name in patches:
        image_id, x, y = name.split('__')[0], *map(
            int,
            name.split('__', 2)[2].split('___'))
        originals = load_dota_txt(
            str(source / 'labelTxt' / f'{image_id}.txt'), CLASSES)
        kept = load_dota_txt(str(out / 'annfiles' / f'{name}.txt'), CLASSES)
        window = shapely.box(x, y, x + 160, y + 160)
        expected = []
        for obj in originals:
            hull = shapely.MultiPoint(obj.polygon.reshape(4, 2)).convex_hull
            share = hull.intersection(window).area / hull.area
            if share >= 0.7:
                expected.append(
                    (obj.name, obj.difficulty if share > 1 - 1e-9 else 2,
                     obj.polygon - [x, y] * 4))
        assert len(kept) == len(expected), name
        for obj, (label, difficulty, polygon) in zip(kept, expected):
            assert (obj.name, obj.difficulty) == (label, difficulty)
            assert np.allclose(obj.polygon, polygon, atol=0.06)
            truncated += difficulty == 2
    assert truncated > 0  # the case of objects cut by a patch border


def test_split_pads_small_images_and_names_bad_labels(tmp_path):
    source = tmp_path / 'src'
    (source / 'images').mkdir(parents=True)
    (source / 'labelTxt').mkdir()
    cv2.imwrite(
        str(source / 'images' / 'S.png'), np.full((50, 70, 3), 200, np.uint8))
    (source / 'labelTxt' / 'S.txt').write_text(
        '10 10 40 10 40 30 10 30 plane 0\n10 10 40 10 40 30 plane 0\n')
    result = subprocess.run([
        sys.executable, SPLIT, '--src',
        str(source), '--out',
        str(tmp_path / 'out'), '--sizes', '64', '--gaps', '16', '--nproc', '1'
    ],
                            capture_output=True,
                            text=True,
                            cwd=ROOT)
    assert result.returncode != 0
    assert 'S.txt:2: wrong number of fields' in result.stderr
    run(SPLIT, '--src', str(source), '--out', str(tmp_path / 'out'), '--sizes',
        '64', '--gaps', '16', '--nproc', '1', '--bad-annotations', 'skip')
    patch = cv2.imread(str(tmp_path / 'out' / 'images' / 'S__1__0___0.png'))
    assert patch.shape == (64, 64, 3)
    assert (patch[60, 60] == [104, 116, 124]).all()  # padding
    assert (patch[:50, :64] == 200).all()


BASE = 'rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'
TINY_CONFIG = """
_base_ = 'mmdet_losses::{base}'
data_root = '{root}/'
metainfo = dict(classes={classes})
model = dict(
    backbone=dict(depth=18, init_cfg=None, out_indices=(1, 2, 3)),
    neck=dict(in_channels=[128, 256, 512], out_channels=32, start_level=0,
              num_outs=3),
    bbox_head=dict(num_classes=4, in_channels=32, feat_channels=32,
                   stacked_convs=1,
                   anchor_generator=dict(strides=[8, 16, 32])),
    test_cfg=dict(score_thr=0.0, nms_pre=50, max_per_img=20))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, indices=4,
                 ann_file='train/annfiles/',
                 data_prefix=dict(img_path='train/images/'),
                 pipeline=pipeline, bad_annotations='skip'))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='',
                 data_prefix=dict(img_path='test/images/'),
                 pipeline=test_pipeline))
test_evaluator = dict(outfile_prefix='{root}/task1_by_metric')
train_cfg = dict(max_epochs=1, val_interval=1)
# an untrained model scores low: draw every box
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1),
                     visualization=dict(score_thr=0.0))
randomness = dict(seed=0)
"""


def test_split_train_test_merge(tmp_path):
    train_src = dota_source(tmp_path, 'train', 3)
    test_src = dota_source(tmp_path, 'val', 1)
    data = tmp_path / 'split_ss'
    for src, split in ((train_src, 'train'), (test_src, 'test')):
        output = run(SPLIT, '--src', str(src), '--out', str(data / split),
                     '--sizes', '128', '--gaps', '32', '--classes', CLASS_LIST,
                     '--nproc', '1')
        assert 'patches' in output
    config = tmp_path / 'tiny_dota.py'
    config.write_text(
        TINY_CONFIG.format(base=BASE, root=data, classes=tuple(CLASSES)))
    work = tmp_path / 'work'
    run(
        osp.join(ROOT, 'tools', 'train.py'), str(config), '--work-dir',
        str(work))
    assert (work / 'epoch_1.pth').is_file()

    preds = tmp_path / 'preds.pkl'
    run(
        osp.join(ROOT, 'tools', 'test.py'), str(config),
        str(work / 'epoch_1.pth'), '--work-dir', str(work), '--out',
        str(preds), '--show-dir', 'vis')
    # the test set has no labels: the metric writes merged Task1 files
    assert (data / 'task1_by_metric' / f'Task1_{CLASSES[0]}.txt').is_file()
    shown = sorted(work.glob('*/vis/*.png'))
    assert len(shown) == 9  # one 256 px image in 3 x 3 patches of 128
    # ground truth (none: a test set) beside the drawn predictions
    drawn = cv2.imread(str(shown[0]))
    original = cv2.imread(str(data / 'test' / 'images' / shown[0].name))
    assert drawn.shape == (128, 256, 3)
    assert (drawn[:, :128] == original).all()
    assert (drawn[:, 128:] != original).any()

    out = tmp_path / 'task1'
    output = run(MERGE, str(preds), '--out-dir', str(out), '--config',
                 str(config), '--ann-dir', str(test_src / 'labelTxt'))
    assert '1 images' in output and 'mAP' in output
    image_id = '000000'
    lines = []
    for name in CLASSES:
        lines += (out / f'Task1_{name}.txt').read_text().splitlines()
    assert lines and all(line.split()[0] == image_id for line in lines)
    coords = np.array([[float(v) for v in line.split()[2:]] for line in lines])
    assert coords.shape[1] == 8
    # the merged boxes sit in the whole image, not in one patch
    centres = coords.reshape(-1, 4, 2).mean(1)
    assert centres.max() > 128 and centres.min() >= -64
    # fewer boxes than the patches predicted: duplicates were merged
    from mmengine.fileio import load
    total = sum(len(s['pred_instances']['scores']) for s in load(str(preds)))
    assert len(lines) < total
