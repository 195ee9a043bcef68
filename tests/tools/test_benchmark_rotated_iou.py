"""tools/benchmark_rotated_iou.py runs, compares the pruned IoU with
mmrotate's calculator on its own inputs, and prints one row per case (the
timing itself is for the tool's user, not asserted here)."""
import os.path as osp
import sys

from helpers import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools'))
import benchmark_rotated_iou  # noqa: E402

sys.path.pop(0)


def test_benchmark_runs_and_agrees(capsys):
    ratios = benchmark_rotated_iou.main(
        ['--sizes', '128', '--num-gts', '3', '7', '--repeat', '1'])
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    rows = capsys.readouterr().out.strip().splitlines()[3:]
    assert len(rows) == 2
    for row in rows:
        assert row.split()[:3] in (['128', '3069', '3'], ['128', '3069', '7'])
        assert float(row.split()[-1]) <= 1e-5  # max |pruned - mmrotate|


def test_a_512_px_image_has_49104_anchors():
    assert len(benchmark_rotated_iou.make_anchors(512)) == 49104
