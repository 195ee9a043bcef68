"""write_once: the shared write-on-first-use of the synthetic datasets."""
import json
import multiprocessing
import os
import time

import numpy as np
import pytest

from mmdet_losses.datasets.generation import write_once

META = dict(format_version=1, num_train=2)


def slow_write(tmp: str) -> None:
    """Writes one file slowly and counts its calls in a log beside it."""
    os.makedirs(tmp)
    with open(os.path.join(os.path.dirname(tmp), 'calls.log'), 'a') as f:
        f.write(f'{os.getpid()}\n')
    time.sleep(0.3)  # long enough for the other process to arrive
    with open(os.path.join(tmp, 'data.txt'), 'w') as f:
        f.write('data')


def call(root: str) -> str:
    return write_once(root, META, slow_write, 'test dataset', verbose=False)


def test_concurrent_callers_write_once(tmp_path):
    root = str(tmp_path / 'data')
    with multiprocessing.get_context('fork').Pool(3) as pool:
        roots = pool.map(call, [root] * 3)
    assert roots == [root] * 3
    assert len((tmp_path / 'calls.log').read_text().split()) == 1
    assert sorted(os.listdir(root)) == ['data.txt', 'meta.json']
    assert json.loads((tmp_path / 'data' / 'meta.json').read_text()) == META
    # no temporary directory left behind
    assert sorted(os.listdir(tmp_path)) == ['calls.log', 'data', 'data.lock']


def test_other_arguments_and_foreign_files_are_errors(tmp_path):
    root = str(tmp_path / 'data')
    call(root)
    with pytest.raises(ValueError, match='test dataset made with'):
        write_once(root, dict(META, num_train=3), slow_write, 'test dataset')
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('keep me')
    with pytest.raises(ValueError, match='not a test dataset'):
        call(str(foreign))
    assert (foreign / 'notes.txt').read_text() == 'keep me'
    # an empty directory made beforehand is filled
    (tmp_path / 'empty').mkdir()
    assert os.listdir(call(str(tmp_path / 'empty'))) != []


def test_class_colour_stays_in_its_range_and_contrasts():
    from mmdet_losses.datasets.generation import class_colour
    rng = np.random.default_rng(0)
    centre = np.array([60., 60., 210.])
    for _ in range(200):
        background = rng.uniform(0, 255, 3)
        colour = class_colour(rng, centre, background)
        assert (np.abs(colour - centre) <= 35).all()
    # a background far from the range: the first draw is kept
    colour = class_colour(np.random.default_rng(1), centre, np.zeros(3))
    first = centre + np.random.default_rng(1).uniform(-35, 35, 3)
    np.testing.assert_array_equal(colour, first)
    # no colour of the range contrasts with a background at its centre:
    # after 20 draws the last one is kept
    colour = class_colour(np.random.default_rng(2), centre, centre)
    draws = np.random.default_rng(2).uniform(-35, 35, (20, 3))
    np.testing.assert_array_equal(colour, centre + draws[-1])
