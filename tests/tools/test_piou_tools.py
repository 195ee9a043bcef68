"""tools/analysis/piou_vs_iou.py and tools/benchmark_piou.py, on a few
boxes."""
import json
import math

from helpers import load_tool


def test_piou_vs_iou_tables(tmp_path, capsys):
    tool = load_tool('analysis', 'piou_vs_iou.py')
    out = tmp_path / 'numbers.json'
    tool.main([
        '--sizes', '16', '64', '--angles', '0', '45', '--pairs', '10',
        '--iters', '10', '--descent-boxes', '2', '--json',
        str(out)
    ])
    printed = capsys.readouterr().out
    for title in ('mmcv.ops.box_iou_rotated', 'Small-box bias',
                  'Gradient descent', 'Gradient of each loss form'):
        assert title in printed
    numbers = json.loads(out.read_text())
    # PIoU follows the exact IoU, closer for larger boxes
    gaps = {r['size']: abs(r['diff_soft']) for r in numbers['comparison']}
    assert max(gaps.values()) < 0.02
    # the intersection count of a box with itself falls short by about
    # perimeter / (k area)
    for row in numbers['bias']:
        assert math.isclose(
            row['count_deficit'], row['perimeter_over_k_area'], rel_tol=0.3)
    # descent moves the boxes towards their targets
    for row in numbers['descent']:
        assert row['centre'] < row['start_centre']
        assert 0 <= row['within'] <= row['boxes']
        assert row['median_angle'] <= row['angle']
    # -ln PIoU pulls hardest on nearly disjoint boxes; the official clamp
    # drops them; 1 - PIoU fades
    by_gap = {r['gap']: r for r in numbers['gradient']}
    assert by_gap[0]['log'] > 5 * by_gap[-16]['log'] > 0
    assert by_gap[-2]['official'] == 0 < by_gap[-16]['official']
    assert by_gap[0]['linear'] < by_gap[-16]['linear']


def test_benchmark_prints_both_methods(capsys):
    tool = load_tool('benchmark_piou.py')
    tool.main([
        '--pairs', '30', '--growth-sides', '10', '300', '--growth-pairs', '2',
        '--repeat', '1'
    ])
    printed = capsys.readouterr().out
    row = next(line for line in printed.splitlines()
               if line.startswith('| 30 |'))
    cells = [cell.strip() for cell in row.strip('|').split('|')]
    assert 'skipped' not in cells
    chunked, dense = float(cells[2]), float(cells[3])
    assert chunked > 0 and dense > 0
    assert '| 300 |' in printed
