"""These tests compare mmdet_losses.functional with torchvision.ops.
torchvision is part of the environment (requirements/build.txt: 0.28.0,
beside the torch 2.13.0 build it loads with; mmrotate imports it too)."""
import pytest


@pytest.fixture
def tv_ops():
    import torchvision.ops
    return torchvision.ops
