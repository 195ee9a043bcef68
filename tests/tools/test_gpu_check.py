"""tools/gpu_check.sh where there is no GPU: it says why it skipped and exits
0 (CPU CI may call it), fails loudly without a Python, and its steps run
end to end in the CPU dry run (GPU_CHECK_DEVICE=cpu, marked slow)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'tools' / 'gpu_check.sh'
BASH = shutil.which('bash')


def bin_dir(tmp_path, fake_nvidia_smi=False):
    """A PATH of one directory: ``dirname`` (the script's first command)
    and, if asked, an ``nvidia-smi`` that succeeds; no real nvidia-smi."""
    path = tmp_path / 'bin'
    path.mkdir()
    (path / 'dirname').symlink_to(shutil.which('dirname'))
    if fake_nvidia_smi:
        stub = path / 'nvidia-smi'
        stub.write_text('#!/bin/sh\nexit 0\n')
        stub.chmod(0o755)
    return str(path)


def run_script(tmp_path, timeout=120, **env):
    # run from elsewhere: the script finds the repository itself
    return subprocess.run([BASH, str(SCRIPT)],
                          cwd=tmp_path,
                          env={
                              **os.environ, 'PYTHON': sys.executable,
                              **env
                          },
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def test_the_script_parses():
    result = subprocess.run([BASH, '-n', str(SCRIPT)],
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(SCRIPT, os.X_OK)


def test_skips_without_nvidia_smi(tmp_path):
    result = run_script(tmp_path, PATH=bin_dir(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (
        '[gpu_check] skipped: nvidia-smi not found (no NVIDIA driver on this '
        'machine), so there is no GPU to check')


def test_skips_where_torch_sees_no_gpu(tmp_path):
    # a driver is there (nvidia-smi runs) but torch sees no device: hidden
    # here, so the test means the same on a machine with a GPU
    result = run_script(
        tmp_path,
        PATH=bin_dir(tmp_path, fake_nvidia_smi=True),
        CUDA_VISIBLE_DEVICES='')
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(
        '[gpu_check] skipped: torch.cuda.is_available() is False (torch ')
    assert 'torch.cuda.device_count() = 0' in lines[0]


def test_fails_without_a_python(tmp_path):
    result = run_script(
        tmp_path,
        PATH=bin_dir(tmp_path, fake_nvidia_smi=True),
        PYTHON=str(tmp_path / 'no-python'))
    assert result.returncode == 1
    assert 'FAILED: no Python interpreter' in result.stdout


@pytest.mark.slow
def test_cpu_dry_run_goes_through_every_step(tmp_path):
    """Every step on the CPU, with a 12-iteration epoch: the CUDA tests
    module in its dry-run mode, the other files' CUDA tests (skipped here)
    and both trainings, whose mean iteration times are read from the
    logs."""
    options = ('train_dataloader.dataset.indices=24 '
               'train_dataloader.batch_size=2 '
               'train_dataloader.num_workers=0 '
               'train_dataloader.persistent_workers=False')
    result = run_script(
        tmp_path,
        timeout=600,
        GPU_CHECK_DEVICE='cpu',
        GPU_CHECK_TRAIN_OPTIONS=options,
        OMP_NUM_THREADS='1')
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert 'dry run on the CPU' in out
    assert re.search(r'\d+ passed', out)
    for mode in ('fp32', 'amp'):
        match = re.search(
            rf'mean iteration time, {mode}: ([0-9.]+) s/iter over 1 '
            r'intervals', out)
        assert match, out[-2000:]
        assert float(match.group(1)) > 0
    assert out.rstrip().endswith('[gpu_check] all steps passed')
