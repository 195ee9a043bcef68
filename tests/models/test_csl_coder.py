"""CircularSmoothLabelCoder: mmrotate's CSLCoder with the paper's gaussian
window. The bins and the decoding are mmrotate's (compared with its coder);
the gaussian label is checked against float64 Python; the other windows are
mmrotate's unchanged. The last test records the label of mmrotate's coder
as shipped, the reason this class exists: should it fail after an mmrotate
upgrade, mmrotate has fixed its window and the configs can go back to it."""
import math

import pytest
import torch
from mmrotate.models.task_modules.coders import CSLCoder

from mmdet_losses.models.task_modules import CircularSmoothLabelCoder

SETTINGS = [('le90', 4, 3), ('le90', 1, 6), ('le135', 2, 2.5), ('oc', 3, 1)]


def angles(version: str, n: int = 97) -> torch.Tensor:
    """``n`` angles (radians) spread over the version's range, both ends
    included, as (n, 1)."""
    low = {'le90': -90, 'le135': -45, 'oc': 0}[version]
    high = low + (90 if version == 'oc' else 180)
    degrees = torch.linspace(low, high - 1e-3, n, dtype=torch.float64)
    return (degrees * math.pi / 180).float()[:, None]


@pytest.mark.parametrize('version,omega,radius', SETTINGS)
def test_bins_and_decoding_are_mmrotates(version, omega, radius):
    ours = CircularSmoothLabelCoder(version, omega, 'gaussian', radius)
    pulse = CSLCoder(version, omega, 'pulse', radius)
    theta = angles(version)
    label = ours.encode(theta)
    assert label.shape == (len(theta), pulse.encode_size)
    assert ours.encode_size == pulse.encode_size
    # the peak sits in the bin mmrotate's one-hot label marks
    torch.testing.assert_close(
        label.argmax(1), pulse.encode(theta).argmax(1), rtol=0, atol=0)
    # and decodes to that bin's centre, within half a bin of the angle
    decoded = ours.decode(label)
    torch.testing.assert_close(decoded, pulse.decode(label))
    error = (decoded - theta[:, 0]) * 180 / math.pi
    assert error.abs().max().item() <= omega / 2 + 1e-3


@pytest.mark.parametrize('version,omega,radius', SETTINGS)
def test_gaussian_label_against_float64(version, omega, radius):
    coder = CircularSmoothLabelCoder(version, omega, 'gaussian', radius)
    theta = angles(version, 13)
    label = coder.encode(theta.double())
    assert label.dtype == torch.float64
    n = coder.encode_size
    offset = {'le90': 90, 'le135': 45, 'oc': 0}[version]
    for i, t in enumerate(theta[:, 0].double().tolist()):
        b = int((math.degrees(t) + offset) / omega)
        for j in range(n):
            d = min((j - b + k * n for k in (-1, 0, 1)), key=abs)
            want = math.exp(-d * d / (2 * radius * radius))
            assert label[i, j].item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize('window', ['triangle', 'rect', 'pulse'])
def test_other_windows_are_mmrotates(window):
    ours = CircularSmoothLabelCoder('le90', 1, window, 6)
    theirs = CSLCoder('le90', 1, window, 6)
    theta = angles('le90')
    torch.testing.assert_close(ours.encode(theta), theirs.encode(theta))


def test_empty_targets():
    coder = CircularSmoothLabelCoder('le90', 4, 'gaussian', 3)
    assert coder.encode(torch.zeros(0, 1)).shape == (0, 45)
    assert coder.decode(torch.zeros(0, 45)).shape == (0, )


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='omega=7 degrees does not divide'):
        CircularSmoothLabelCoder('le90', 7)
    with pytest.raises(ValueError, match='radius must be > 0'):
        CircularSmoothLabelCoder('le90', 4, 'gaussian', 0)


def test_built_from_mmrotate_and_mmdet_scopes():
    from mmdet.registry import TASK_UTILS as MMDET
    from mmrotate.registry import TASK_UTILS as MMROTATE
    cfg = dict(
        type='mmdet_losses.CircularSmoothLabelCoder',
        angle_version='le90',
        omega=4,
        radius=3)
    for registry in (MMROTATE, MMDET):
        coder = registry.build(dict(cfg))
        assert isinstance(coder, CircularSmoothLabelCoder)
        assert isinstance(coder, CSLCoder)


def test_mmrotate_coder_gaussian_as_shipped():
    """mmrotate 1.x's gaussian label: ``exp(-d^2) / (2 r^2)`` over
    ``[-range/2, range/2)`` degrees scattered into ``range / omega`` bins,
    the last write of each bin winning on a CPU."""
    theta = angles('le90', 9)
    coarse = CSLCoder('le90', omega=4, window='gaussian', radius=3)
    assert coarse.encode(theta).abs().max().item() == 0.0
    fine = CSLCoder('le90', omega=1, window='gaussian', radius=3).encode(theta)
    assert fine.max(1).values.tolist() == pytest.approx([1 / 18] * 9)
