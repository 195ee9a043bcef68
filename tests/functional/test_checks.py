"""Range checks: the first offending position and value are named; the
accelerator switch leaves CPU checks on."""
import pytest
import torch

from mmdet_losses.functional import checks


def test_names_the_first_offender_with_its_position():
    labels = torch.tensor([[0, 3], [9, 12]])
    with pytest.raises(ValueError, match=r'labels\[1, 0\] = 9 .* \[0, 5\]'):
        checks.check_labels(labels, 5)
    with pytest.raises(ValueError, match=r'target\[2\] = nan'):
        checks.check_range(torch.tensor([0., 1., float('nan')]), 0, 4)
    checks.check_labels(torch.tensor([0, 4, 5]), 5)
    checks.check_labels(torch.tensor([0, 4, -100]), 5, ignore_index=-100)
    with pytest.raises(ValueError, match=r'\[2\] = 5'):
        checks.check_labels(torch.tensor([0, 4, 5]), 5, allow_background=False)


def test_device_switch_never_skips_cpu():
    bad = torch.tensor([7])
    with checks.device_checks(False):
        assert not checks.device_checks_enabled()
        with pytest.raises(ValueError):
            checks.check_labels(bad, 3)
    assert checks.device_checks_enabled()
    previous = checks.set_device_checks(False)
    assert previous is True
    checks.set_device_checks(previous)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_device_switch_skips_cuda():
    bad = torch.tensor([7], device='cuda')
    with pytest.raises(ValueError):
        checks.check_labels(bad, 3)
    with checks.device_checks(False):
        checks.check_labels(bad, 3)


def test_label_targets_background_ignored_and_scores():
    labels = torch.tensor([0, 2, 3, -100, 1])  # 3 classes: 3 is background
    like = torch.zeros((), dtype=torch.float64)
    valid = labels >= 0
    want = torch.tensor([[1., 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0],
                         [0, 1, 0]],
                        dtype=torch.float64)
    torch.testing.assert_close(
        checks.label_targets(labels, 3, like, valid=valid), want)
    scores = torch.tensor([0.5, 0.25, 0.9, 0.0, 0.75])
    labels = labels.clamp(min=0)
    want = torch.tensor([[0.5, 0, 0], [0, 0, 0.25], [0, 0, 0], [0.0, 0, 0],
                         [0, 0.75, 0]],
                        dtype=torch.float64)
    torch.testing.assert_close(
        checks.label_targets(labels, 3, like, scores), want)
    # any leading shape (YOLOv1's (N, S, S) cells)
    grid = torch.tensor([[[0, 3], [2, 1]]])
    assert checks.label_targets(grid, 3, like).shape == (1, 2, 2, 3)
