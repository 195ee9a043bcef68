"""tools/analysis/simulate_regression.py on a few anchor centres."""
import os.path as osp

import pytest
from helpers import assert_image, load_tool

from mmdet_losses.functional import regression_simulation as sim


def _row(table, name):
    line = next(line for line in table.splitlines()
                if line.startswith(f'| {name} |'))
    return [cell.strip() for cell in line.strip('|').split('|')][1:]


def test_tool_prints_the_tables_and_writes_the_figures(tmp_path, capsys):
    tool = load_tool('analysis', 'simulate_regression.py')
    out = tool.main([
        '--num-centres', '2', '--losses', 'giou', 'ciou', 'l1', '--out-dir',
        str(tmp_path), '--prefix', 'small'
    ])
    printed = capsys.readouterr().out
    assert 'l1: the authors\' convention has no rule for it' in printed
    assert set(out['errors']) == {'exact', 'authors'}
    assert list(out['errors']['authors']) == ['giou', 'ciou']
    assert 'l1' in out['errors']['exact']
    exact_table, authors_table = out['tables']
    assert exact_table in printed and authors_table in printed
    assert '2 centres (686 cases), seed 0' in exact_table
    assert '| loss | t = 0 | t = 50 | t = 100 | t = 160 | t = 200 |' in (
        exact_table)
    # the printed numbers are those of the simulation
    result = sim.simulate(sim.make_cases(2, seed=0), 'giou', 'authors')
    expected = [f'{result.error[t]:.3g}' for t in (0, 50, 100, 160, 200)]
    assert _row(authors_table, 'GIoU') == expected
    assert _row(exact_table, 'L1')[0] == expected[0]
    names = sorted(osp.basename(p) for p in out['files'])
    assert names == [
        'small.npz', 'small_error.png', 'small_error.svg',
        'small_final_error.png'
    ]
    for path in out['files'][1:]:
        assert_image(path)

    # --replot draws the same tables from the saved run
    again = tool.main([
        '--replot',
        str(tmp_path / 'small.npz'), '--out-dir',
        str(tmp_path / 'replot')
    ])
    assert again['tables'] == out['tables']
    assert_image(str(tmp_path / 'replot' / 'simulation_error.png'))


def test_tool_runs_one_mode_and_refuses_bad_input(tmp_path):
    tool = load_tool('analysis', 'simulate_regression.py')
    out = tool.main([
        '--mode', 'authors', '--num-centres', '1', '--iterations', '5',
        '--losses', 'diou', '--out-dir',
        str(tmp_path), '--no-plot'
    ])
    assert list(out['errors']) == ['authors']
    assert len(out['errors']['authors']['diou']) == 6
    assert out['files'] == [str(tmp_path / 'simulation.npz')]
    # runs of the two modes on the same cases merge into one figure
    tool.main([
        '--mode', 'exact', '--num-centres', '1', '--iterations', '5',
        '--losses', 'diou', 'giou', '--out-dir',
        str(tmp_path), '--prefix', 'exact', '--no-plot'
    ])
    merged = tool.main([
        '--replot',
        str(tmp_path / 'simulation.npz'),
        str(tmp_path / 'exact.npz'), '--out-dir',
        str(tmp_path)
    ])
    assert {
        m: list(e)
        for m, e in merged['errors'].items()
    } == {
        'authors': ['diou'],
        'exact': ['diou', 'giou']
    }
    assert len(merged['files']) == 3
    tool.main([
        '--mode', 'exact', '--num-centres', '2', '--iterations', '5',
        '--losses', 'diou', '--out-dir',
        str(tmp_path), '--prefix', 'other', '--no-plot'
    ])
    with pytest.raises(ValueError, match='cannot merge them'):
        tool.main([
            '--replot',
            str(tmp_path / 'simulation.npz'),
            str(tmp_path / 'other.npz')
        ])
    with pytest.raises(SystemExit):
        tool.main(['--losses', 'focal'])
    with pytest.raises(FileNotFoundError, match='no saved simulation'):
        tool.main(['--replot', str(tmp_path / 'missing.npz')])
