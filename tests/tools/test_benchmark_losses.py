"""tools/benchmark_losses.py runs end to end on tiny sizes and prints one
table row per loss with its ratios (the speed targets themselves are the
benchmark's business, not a unit test's)."""
import re

from helpers import load_tool


def test_quick_run_prints_a_row_per_loss():
    tool = load_tool('benchmark_losses.py')
    table = tool.main(['--quick', '--only', 'giou', 'focal', 'dfl'])
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    assert rows[0].startswith('| loss | ours ms | mmdet ms')
    labels = [row.split('|')[1].strip() for row in rows[1:]]
    assert labels == [
        'GIoULoss 512 pairs', 'FocalLoss 1k x 8',
        'DistributionFocalLoss 200 x 4 x 17'
    ]
    for row in rows[1:]:
        # speed-up, memory ratio and bandwidth ratio are positive numbers
        speedup = re.search(r'\| ([0-9.]+)x \|', row)
        assert speedup and float(speedup.group(1)) > 0
        assert float(row.rstrip(' |').split('|')[-1]) > 0
    assert 'copy bandwidth' in table


def test_the_torch_implementation_can_be_benchmarked():
    tool = load_tool('benchmark_losses.py')
    table = tool.main(['--quick', '--only', 'ciou', '--no-compiled'])
    assert 'IoU family: torch implementation' in table
    assert 'CIoULoss 512 pairs' in table
