"""tools/slurm_{train,test}.sh hand srun mmdet's layout of arguments, and
the train/test flags arrive as given, spaces included (srun is replaced by
a script that records its argv)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from helpers import ROOT

FAKE_SRUN = f"""#!{sys.executable}
import json, sys
with open({{out!r}}, 'w') as f:
    json.dump(sys.argv[1:], f)
"""


@pytest.fixture
def fake_srun(tmp_path):
    out = tmp_path / 'argv.json'
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN.format(out=str(out)))
    srun.chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}')
    env.update(GPUS='4', GPUS_PER_NODE='2', SRUN_ARGS='--qos=high --time=5')
    return env, out


@pytest.mark.parametrize('script,fourth', [('slurm_train.sh', 'WD'),
                                           ('slurm_test.sh', 'CKPT')])
def test_flags_with_spaces_reach_the_tool_whole(script, fourth, fake_srun):
    env, out = fake_srun
    flags = ['--cfg-options', 'a=1', 'work_dir=/tmp/with space', '--amp']
    subprocess.run(
        ['bash', f'tools/{script}', 'part', 'job', 'CFG', fourth] + flags,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True)
    argv = json.loads(out.read_text())
    assert argv[:8] == [
        '-p', 'part', '--job-name=job', '--gres=gpu:2', '--ntasks=4',
        '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1'
    ]
    # SRUN_ARGS splits into srun flags
    assert argv[8:10] == ['--qos=high', '--time=5']
    tool = osp.join(ROOT, 'tools',
                    'train.py' if 'train' in script else 'test.py')
    assert osp.samefile(argv[12], tool)
    assert argv[13] == 'CFG'
    expected = ['--work-dir=WD'] if 'train' in script else ['CKPT']
    assert argv[14:] == expected + ['--launcher=slurm'] + flags


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh'])
def test_missing_arguments_print_the_usage(script, fake_srun):
    env, out = fake_srun
    result = subprocess.run(['bash', f'tools/{script}', 'part', 'job'],
                            cwd=ROOT,
                            env=env,
                            capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert 'usage:' in result.stderr and 'PARTITION JOB_NAME' in result.stderr
    assert not out.exists()
