"""The README's COCO recipe on a raw COCO-layout tree, as a user runs it
from the repository root: ``tools/dist_train.sh CONFIG 2 --data-root DIR``
(two gloo processes on a CPU, ``--auto-scale-lr``), ``python tools/test.py
CONFIG CKPT --data-root DIR`` and ``python tools/reproduce_gfl_ablation.py
table3 --launcher pytorch --gpus 2 --data-root DIR`` on one row.

The tree is ``annotations/instances_{train,val}2017.json``, ``train2017/``,
``val2017/`` with 4 + 2 images of 128 px and COCO's 80 categories; the
configs are shrunk with ``--cfg-options`` only (ResNet-18 from scratch,
narrow FPN and head, 128 px, one epoch of one iteration)."""
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT
from mmengine.config import Config

CONFIG = 'configs/gfl/gfl_r50_fpn_ciou_1x_coco.py'
MODEL = [
    'model.backbone.depth=18',
    'model.backbone.init_cfg=None',
    'model.neck.in_channels=[64,128,256,512]',
    'model.neck.out_channels=64',
    'model.bbox_head.in_channels=64',
    'model.bbox_head.feat_channels=64',
    'model.bbox_head.stacked_convs=1',
    # one iteration leaves every score at the 0.01 prior, under mmdet's 0.05
    'model.test_cfg.score_thr=0'
]
TEST_DATA = [
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'test_dataloader.dataset.pipeline.1.scale=(128,128)'
]
TRAIN = MODEL + [
    'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.2.scale=(128,128)',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'val_dataloader.dataset.pipeline.1.scale=(128,128)',
    'default_hooks.logger.interval=1'
]
# the tree has medium objects only: CocoMetric on its val json gives -1
# (no ground truth) for small and large; COCO's val2017 has all three
TREE_SIZES = re.compile(r'coco/bbox_mAP_s: -1\.0000 .*'
                        r'coco/bbox_mAP_m: 0\.\d{4} .*'
                        r'coco/bbox_mAP_l: -1\.0000')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _run(command, timeout=300):
    """``command`` from the repository root with this environment's
    ``python`` first on PATH, as in an activated virtual environment."""
    env = dict(
        os.environ,
        PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
        OMP_NUM_THREADS='1',
        PORT=_free_port())
    env.pop('PYTHON', None)
    env.pop('PYTHONPATH', None)
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def _write_coco_tree(root):
    import cv2
    from mmdet.datasets import CocoDataset
    rng = np.random.RandomState(0)
    os.makedirs(osp.join(root, 'annotations'))
    categories = [
        dict(id=i, name=name, supercategory='thing')
        for i, name in enumerate(CocoDataset.METAINFO['classes'], 1)
    ]
    for split, count in (('train2017', 4), ('val2017', 2)):
        os.makedirs(osp.join(root, split))
        images, annotations = [], []
        for i in range(1, count + 1):
            image = rng.randint(0, 60, (128, 128, 3)).astype(np.uint8)
            for category in (1, 3):  # person, car: 32 to 63 px, medium
                x, y = rng.randint(0, 64, 2).tolist()
                w, h = rng.randint(32, 64, 2).tolist()
                image[y:y + h, x:x + w] = (40 * category, 200, 90)
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=i,
                        category_id=category,
                        bbox=[x, y, w, h],
                        area=w * h,
                        iscrowd=0))
            name = f'{i:012d}.jpg'
            assert cv2.imwrite(osp.join(root, split, name), image)
            images.append(dict(id=i, file_name=name, width=128, height=128))
        with open(
                osp.join(root, 'annotations', f'instances_{split}.json'),
                'w') as f:
            json.dump(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=categories), f)


@pytest.fixture(scope='module')
def coco_tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('raw') / 'coco')
    _write_coco_tree(root)
    return root


@pytest.fixture(scope='module')
def dist_run(coco_tree, tmp_path_factory):
    """``tools/dist_train.sh CONFIG 2 --data-root TREE --auto-scale-lr``:
    its work dir and output."""
    work_dir = str(tmp_path_factory.mktemp('dist'))
    output = _run([
        'tools/dist_train.sh', CONFIG, '2', '--data-root', coco_tree,
        '--work-dir', work_dir, '--auto-scale-lr', '--cfg-options', *TRAIN
    ])
    return work_dir, output


def _scalars(work_dir):
    [path] = [
        osp.join(d, 'scalars.json') for d, _, files in os.walk(work_dir)
        if 'scalars.json' in files
    ]
    with open(path) as f:
        return [json.loads(line) for line in f]


def _expected_first_lr(config, world_size, batch_size=None):
    """The config's lr at iteration 1 of a run of ``world_size`` processes
    with ``--auto-scale-lr``: linear scaling by the total batch over
    ``auto_scale_lr.base_batch_size``, times the warmup's start factor."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    batch = batch_size or cfg.train_dataloader.batch_size
    warmup = cfg.param_scheduler[0]
    assert warmup.type == 'LinearLR' and not warmup.by_epoch
    return (cfg.optim_wrapper.optimizer.lr * world_size * batch /
            cfg.auto_scale_lr.base_batch_size * warmup.start_factor)


def test_dist_train_reads_the_tree_with_gloo_and_scales_the_lr(
        dist_run, coco_tree):
    work_dir, output = dist_run
    assert 'using the gloo backend' in output
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # the run's config: every dataset and the evaluators in the tree
    cfg = Config.fromfile(osp.join(work_dir, osp.basename(CONFIG)))
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[name].dataset.data_root == coco_tree + '/'
    for name in ('val_evaluator', 'test_evaluator'):
        assert cfg[name].ann_file == osp.join(coco_tree, 'annotations',
                                              'instances_val2017.json')
    # 2 processes x 2 images, base batch 16: the lr is a quarter of the
    # config's (0.01 -> 0.0025), times the warmup's 0.001 at iteration 1
    assert 'current batch size is 4. Scaling the original LR by 0.25.' \
        in output
    train, val = _scalars(work_dir)
    assert train['iter'] == 1 and train['epoch'] == 1
    assert train['lr'] == pytest.approx(_expected_first_lr(CONFIG, 2))
    assert train['lr'] == pytest.approx(0.01 * 0.25 * 0.001)
    # the epoch's evaluation used the tree's val json
    assert TREE_SIZES.search(output), output[-3000:]
    assert val['coco/bbox_mAP_s'] == -1 and val['coco/bbox_mAP_l'] == -1


def test_tools_test_py_evaluates_the_checkpoint_on_the_tree(
        dist_run, coco_tree, tmp_path):
    work_dir, _ = dist_run
    preds = str(tmp_path / 'preds.pkl')
    output = _run([
        'python', 'tools/test.py', CONFIG,
        osp.join(work_dir, 'epoch_1.pth'), '--data-root', coco_tree,
        '--work-dir',
        str(tmp_path), '--out', preds, '--cfg-options', *MODEL, *TEST_DATA
    ])
    assert re.search(
        r'Epoch\(test\) \[2/2\]\s+coco/bbox_mAP: \d\.\d{4}\s+'
        r'coco/bbox_mAP_50: \d\.\d{4}\s+coco/bbox_mAP_75: \d\.\d{4}',
        output), output[-3000:]
    assert TREE_SIZES.search(output)
    from mmengine.fileio import load
    results = load(preds)
    assert sorted(r['img_path'] for r in results) == [
        osp.join(coco_tree, 'val2017', f'{i:012d}.jpg') for i in (1, 2)
    ]
    assert all(len(r['pred_instances']['bboxes']) > 0 for r in results)


def test_ablation_tool_launcher_pytorch_on_the_tree(coco_tree, tmp_path):
    """One row of Table 3 (GFL, QFL + DFL), 2 processes of 1 image each:
    the tool's ``--auto-scale-lr`` scales the lr by 2 / 16."""
    work_root = str(tmp_path / 'ablation')
    output = _run([
        'python', 'tools/reproduce_gfl_ablation.py', 'table3', '--launcher',
        'pytorch', '--gpus', '2', '--rows', 'QFL + DFL', '--data-root',
        coco_tree, '--work-root', work_root, '--cfg-options', *TRAIN,
        'train_dataloader.batch_size=1'
    ])
    config = 'configs/gfl/gfl_r50_fpn_1x_coco.py'
    assert f'[1/1] {config} seed 0: training in' in output
    run = osp.join(work_root, 'gfl', 'gfl_r50_fpn_1x_coco', 'seed0')
    with open(osp.join(run, 'train_stdout.log')) as f:
        log = f.read()
    assert 'using the gloo backend' in log
    assert 'current batch size is 2. Scaling the original LR by 0.125.' \
        in log
    assert TREE_SIZES.search(log)
    # 4 images, 2 processes x 1: two iterations
    train = [r for r in _scalars(run) if 'lr' in r]
    assert [r['iter'] for r in train] == [1, 2]
    assert train[0]['lr'] == pytest.approx(
        _expected_first_lr(config, 2, batch_size=1))
    # the run's final evaluation, in %, is the table's row
    with open(osp.join(run, 'result.json')) as f:
        metrics = json.load(f)['metrics']
    assert set(metrics) == {'AP', 'AP50', 'AP75'}
    assert all(0 <= v <= 100 for v in metrics.values())
    assert f"[1/1] {config} seed 0: AP {metrics['AP']:.1f} in" in output
    with open(osp.join(work_root, 'table3.md')) as f:
        table = f.read()
    row = ' | '.join(f'{metrics[m]:.1f}' for m in ('AP', 'AP50', 'AP75'))
    assert f'| QFL + DFL | `gfl_r50_fpn_1x_coco.py` | {row} |' in table
