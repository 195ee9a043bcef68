import os
import sys

import pytest

# tests import the helpers module beside this file
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# training threads: the machines running CI have 2 cores
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def tiny_synthetic_root(tmp_path_factory):
    """A 4 + 2 image synthetic shapes dataset shared by the session."""
    from mmdet_losses.datasets import generate_synthetic_coco
    root = str(tmp_path_factory.mktemp('synthetic') / 'shapes')
    generate_synthetic_coco(root, num_train=4, num_val=2, verbose=False)
    return root
