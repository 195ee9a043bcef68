"""CSLCoder and PseudoAngleCoder, built from configs as the heads do."""
import math

import pytest
import torch
from mmengine.registry import DefaultScope

import mmdet_losses
from mmdet_losses.functional.csl import csl_encode
from mmdet_losses.models.task_modules.coders.angle_coder import (
    CSL_RANGES, CSLCoder, PseudoAngleCoder)
from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import norm_angle, regularize_rboxes

mmdet_losses.register_all_modules(init_default_scope=False)


def _build(**cfg):
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        return TASK_UTILS.build(cfg)


def test_mmrotate_config_builds():
    """The angle coder of mmrotate's CSL RetinaNet config."""
    coder = _build(
        type='CSLCoder',
        angle_version='le90',
        omega=4,
        window='gaussian',
        radius=3)
    assert isinstance(coder, CSLCoder)
    assert coder.encoded_size == coder.encode_size == 45
    angles = torch.tensor([[-1.2], [0.0], [0.7]])
    labels = coder.encode(angles)
    assert labels.shape == (3, 45)
    torch.testing.assert_close(
        labels,
        csl_encode(angles[:, 0], 45, -math.pi / 2, math.pi, 'gaussian', 3))
    decoded = coder.decode(labels)
    assert decoded.shape == (3, )
    assert coder.decode(labels, keepdim=True).shape == (3, 1)
    assert (decoded - angles[:, 0]).abs().max() <= math.radians(2) + 1e-6


@pytest.mark.parametrize('version', ['le90', 'le135', 'oc'])
def test_ranges_hold_every_regularised_angle(version):
    """CSL bins cover the angles the box structures produce for each
    version, and decode back into that range."""
    g = torch.Generator().manual_seed(0)
    boxes = torch.cat((torch.rand(500, 2, generator=g) * 100,
                       torch.rand(500, 2, generator=g) * 50 + 1,
                       (torch.rand(500, 1, generator=g) - 0.5) * 8), 1)
    angles = regularize_rboxes(boxes, version)[:, 4]
    start, length = (math.radians(x) for x in CSL_RANGES[version])
    assert angles.min() >= start - 1e-6
    assert angles.max() < start + length + 1e-6
    coder = _build(type='CSLCoder', angle_version=version, omega=1)
    decoded = coder.decode(coder.encode(angles[:, None]))
    assert decoded.min() >= start and decoded.max() < start + length
    error = torch.remainder(decoded - angles + length / 2, length) \
        - length / 2
    assert error.abs().max() <= math.radians(0.5) + 1e-5
    if version != 'oc':  # le90 and le135 are half turns: norm_angle's range
        torch.testing.assert_close(norm_angle(decoded, version), decoded)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='omega must be'):
        _build(type='CSLCoder', omega=7)
    with pytest.raises(ValueError, match='window must be one of'):
        _build(type='CSLCoder', window='hann')
    with pytest.raises(ValueError, match='angle_version'):
        _build(type='CSLCoder', angle_version='le45')


def test_pseudo_angle_coder_is_the_identity():
    coder = _build(type='PseudoAngleCoder')
    assert isinstance(coder, PseudoAngleCoder)
    assert coder.encoded_size == 1
    angles = torch.randn(7, 1)
    assert coder.encode(angles) is angles
    assert coder.decode(angles).shape == (7, )
    assert coder.decode(angles, keepdim=True) is angles
