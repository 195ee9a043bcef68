"""tools/dist_train.sh on a CPU: two gloo processes see the same global
batch as one process and produce the same first-iteration losses."""
import json
import os
import socket
import subprocess
import sys

import pytest
from helpers import ROOT

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _config(tmp_path, data_root, batch_size):
    path = tmp_path / f'dist_b{batch_size}.py'
    path.write_text(f"""
_base_ = 'mmdet_losses::quickstart/gfl_r18_fpn_qfl-dfl-ciou_synthetic.py'
custom_imports = dict(imports=['recording_hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='RecordLossesHook', iterations=1)]
data_root = '{data_root}/'
generate = dict(num_train=8, num_val=2, img_size=128)
# same images in the same order whatever the number of processes, and no
# batch statistics across samples: BN would see 4 images in one process,
# 2 in each of two
model = dict(
    backbone=dict(norm_cfg=dict(type='GN', num_groups=8)),
    # GFL divides the box losses by the summed quality weights, averaged over
    # ranks but clamped at 1; the default 0.01 prior keeps that sum under 1
    # at the first iteration, where the clamp makes the losses per-rank
    bbox_head=dict(init_cfg=dict(
        type='Normal', layer='Conv2d', std=0.01,
        override=dict(type='Normal', name='gfl_cls', std=0.01,
                      bias_prob=0.5))))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(data_root=data_root, generate=generate, pipeline=pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, generate=generate))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
randomness = dict(seed=0)
""")
    return str(path)


def _run(command, env_extra):
    env = dict(
        os.environ,
        PYTHONPATH=TESTS,
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        **env_extra)
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900)
    assert result.returncode == 0, (
        result.stdout[-3000:] + result.stderr[-3000:])
    return result.stdout + result.stderr


def test_two_gloo_processes_match_one_process(tmp_path):
    data_root = tmp_path / 'data'
    single = tmp_path / 'single'
    _run([
        sys.executable, 'tools/train.py',
        _config(tmp_path, data_root, 4), '--work-dir',
        str(single)
    ], {})
    dist = tmp_path / 'dist'
    output = _run([
        'bash', 'tools/dist_train.sh',
        _config(tmp_path, data_root, 2), '2', '--work-dir',
        str(dist)
    ], dict(PORT=str(_free_port())))
    assert 'gloo' in output
    one = json.loads((single / 'losses_rank0.json').read_text())[0]
    ranks = [
        json.loads((dist / f'losses_rank{r}.json').read_text())[0]
        for r in range(2)
    ]
    assert set(one) == set(ranks[0]) and 'loss' in one
    for key in one:
        # GFL normalises by the number of positives averaged over ranks, so
        # the mean of the ranks' losses is the loss of the global batch
        mean = (ranks[0][key] + ranks[1][key]) / 2
        assert mean == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
    assert (dist / 'epoch_1.pth').is_file(), 'the run did not finish'
