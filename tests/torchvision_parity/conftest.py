"""These tests compare mmdet_losses.functional with torchvision.ops. They
need an environment where torchvision loads, which is not the main one
(torchvision from the index does not load beside the CPU build of torch
2.13); ``tools/run_torchvision_parity.sh`` makes one and runs them there.
Elsewhere they are skipped with the reason."""
import pytest


def _torchvision_problem():
    try:
        import torch
        import torchvision.ops
        torchvision.ops.box_iou(torch.zeros(1, 4), torch.ones(1, 4))
    except Exception as error:  # a failed op registration is no ImportError
        return f'{type(error).__name__}: {error}'
    return None


PROBLEM = _torchvision_problem()


@pytest.fixture(autouse=True)
def _needs_torchvision():
    if PROBLEM is not None:
        pytest.skip('torchvision.ops does not load here '
                    f'({PROBLEM[:120]}); run '
                    'tools/run_torchvision_parity.sh')


@pytest.fixture
def tv_ops():
    import torchvision.ops
    return torchvision.ops
