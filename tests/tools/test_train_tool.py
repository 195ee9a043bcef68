"""tools/train.py and tools/test.py as a user runs them: a subprocess each,
including SIGKILL and --resume."""
import os
import os.path as osp
import random
import signal
import subprocess
import sys
import time

import pytest
from helpers import ROOT, config_path

from mmdet_losses.utils.checkpoint import (find_resumable_checkpoint,
                                           is_complete_checkpoint)

QUICKSTART = config_path('quickstart', 'gfl_r18_fpn_qfl-dfl-ciou_synthetic.py')


def tiny_config(tmp_path, data_root, max_epochs, num_train=8):
    """A config file that inherits the quickstart config by package name."""
    path = tmp_path / 'tiny.py'
    path.write_text(f"""
_base_ = 'mmdet_losses::quickstart/{osp.basename(QUICKSTART)}'
data_root = '{data_root}/'
generate = dict(num_train={num_train}, num_val=2, img_size=128)
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, generate=generate))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, generate=generate))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs={max_epochs}, val_interval={max_epochs})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=10))
randomness = dict(seed=0)
""")
    return str(path)


def train_command(config, work_dir, *extra):
    return [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
        str(work_dir), *extra
    ]


def _run(command, timeout=600):
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    return result.stdout + result.stderr


@pytest.mark.parametrize('seed', [
    0,
    pytest.param(1, marks=pytest.mark.slow),
    pytest.param(2, marks=pytest.mark.slow)
])
def test_sigkill_at_a_random_moment_then_resume_finishes(tmp_path, seed):
    """Killed at a random moment after the first checkpoint (possibly while
    a checkpoint is written), the run leaves only complete checkpoints and
    ``--resume`` finishes it."""
    rng = random.Random(seed)
    config = tiny_config(tmp_path, tmp_path / 'data', max_epochs=6)
    work_dir = tmp_path / 'work'
    process = subprocess.Popen(
        train_command(config, work_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    try:
        while not (work_dir / 'epoch_1.pth').exists():
            assert process.poll() is None, 'training ended before a checkpoint'
            assert time.time() < deadline, 'no checkpoint within 10 minutes'
            time.sleep(0.05)
        first = time.time()
        while not (work_dir / 'epoch_2.pth').exists():
            assert process.poll() is None, 'training ended early'
            time.sleep(0.05)
        # one epoch (with its checkpoint) took this long on this machine:
        # kill within the next two, well before the four that remain
        epoch = time.time() - first
        time.sleep(rng.uniform(0, 2 * epoch))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (work_dir / 'epoch_6.pth').exists(), 'killed after the end'
    for checkpoint in work_dir.glob('*.pth'):
        assert is_complete_checkpoint(str(checkpoint)), checkpoint
    expected = find_resumable_checkpoint(str(work_dir))
    assert expected is not None

    output = _run(train_command(config, work_dir, '--resume'))
    assert 'resumed epoch' in output
    assert f'by local backend from path: {expected}' in output
    assert (work_dir / 'epoch_6.pth').is_file()


def test_resume_auto_skips_a_truncated_last_checkpoint(tmp_path):
    config = tiny_config(
        tmp_path, tmp_path / 'data', max_epochs=2, num_train=4)
    work_dir = tmp_path / 'work'
    _run(train_command(config, work_dir))
    last = work_dir / 'epoch_2.pth'
    assert is_complete_checkpoint(str(last))
    # a crash while something else wrote the file: cut it in half
    data = last.read_bytes()
    last.write_bytes(data[:len(data) // 2])
    assert not is_complete_checkpoint(str(last))
    assert find_resumable_checkpoint(str(work_dir)) == str(work_dir /
                                                           'epoch_1.pth')


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    """A failure in the middle of a write leaves the previous file whole."""
    import torch
    from mmengine.runner.checkpoint import save_checkpoint

    import mmdet_losses
    mmdet_losses.install_mmengine_compat()  # the atomic local backend
    target = tmp_path / 'model.pth'
    save_checkpoint({'w': torch.ones(3)}, str(target))
    before = target.read_bytes()

    def fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', fail)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'w': torch.zeros(1000)}, str(target))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['model.pth']


def test_loading_refuses_objects_outside_mmengines_checkpoints(tmp_path):
    """weights_only stays on: a pickle that would call a function fails
    with the file named, unless the user says they trust it."""
    import torch

    from mmdet_losses.utils.checkpoint import UNSAFE_LOAD_ENV, load_from_local
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'hook': os.system}, str(path))
    with pytest.raises(RuntimeError, match='evil.pth.*Refused|Refused.*evil'):
        load_from_local(str(path))
    os.environ[UNSAFE_LOAD_ENV] = '1'
    try:
        assert load_from_local(str(path))['hook'] is os.system
    finally:
        del os.environ[UNSAFE_LOAD_ENV]


def test_amp_on_cpu_trains_and_test_tool_evaluates(tmp_path):
    config = tiny_config(
        tmp_path, tmp_path / 'data', max_epochs=1, num_train=4)
    work_dir = tmp_path / 'work'
    output = _run(train_command(config, work_dir, '--amp'))
    assert 'AmpOptimWrapper' in (work_dir / 'tiny.py').read_text()
    assert 'nan' not in output.split('Epoch(train)')[-1].lower()
    out = tmp_path / 'pred.pkl'
    output = _run([
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config,
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(work_dir), '--out',
        str(out), '--show-dir', 'vis', '--cfg-options',
        'model.test_cfg.score_thr=0.0'
    ])
    assert 'coco/bbox_mAP' in output
    assert out.is_file()
    shown = list(work_dir.glob('*/vis/*.png'))
    assert len(shown) == 2


def test_unknown_type_in_config_names_our_losses(tmp_path):
    config = tmp_path / 'bad.py'
    config.write_text(
        f"_base_ = '{QUICKSTART}'\n"
        "model = dict(bbox_head=dict(loss_bbox=dict(type='CIOULoss')))\n")
    result = subprocess.run(
        train_command(str(config), tmp_path / 'work'),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300)
    assert result.returncode != 0
    assert 'mmdet_losses registers these model types' in result.stderr
    assert 'CIoULoss' in result.stderr
