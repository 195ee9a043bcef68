"""mmrotate's ``CSLCoder`` with the paper's gaussian window.

A drop-in for the ``angle_coder`` of mmrotate's ``AngleBranchRetinaHead``
(and any head that takes ``CSLCoder``): same arguments, same bins, same
decoding; only the gaussian label differs (:mod:`mmdet_losses.functional.csl`
says how mmrotate's differs from the paper's). The other windows are
mmrotate's own.

    angle_coder=dict(type='mmdet_losses.CircularSmoothLabelCoder',
                     angle_version='le90', omega=4, window='gaussian',
                     radius=3)
"""
import math

from mmrotate.models.task_modules.coders import CSLCoder
from torch import Tensor

from mmdet_losses.functional.csl import circular_smooth_label
from mmdet_losses.registry import TASK_UTILS


@TASK_UTILS.register_module()
class CircularSmoothLabelCoder(CSLCoder):
    """Circular smooth label coder (Yang and Yan, ECCV 2020).

    Args:
        angle_version (str): ``'oc'`` (90 degrees of range), ``'le90'`` or
            ``'le135'`` (180 degrees).
        omega (float): bin width in degrees; must divide the range.
        window (str): ``'gaussian'`` (the paper's, computed here),
            ``'triangle'``, ``'rect'`` or ``'pulse'`` (mmrotate's).
        radius (float): window radius in bins; for ``'gaussian'`` the
            standard deviation, > 0.
    """

    def __init__(self,
                 angle_version: str,
                 omega: float = 1,
                 window: str = 'gaussian',
                 radius: float = 6) -> None:
        super().__init__(angle_version, omega, window, radius)
        bins = self.angle_range / omega
        if not (omega > 0 and math.isclose(bins, round(bins))):
            raise ValueError(
                f'omega={omega} degrees does not divide the '
                f'{self.angle_range}-degree range of angle_version '
                f'{angle_version!r} into whole bins')
        if window == 'gaussian' and not radius > 0:
            raise ValueError(f'radius must be > 0 bins for the gaussian '
                             f'window, got {radius}')

    def encode(self, angle_targets: Tensor) -> Tensor:
        """``(n, 1)`` angles in radians -> ``(n, encode_size)`` labels."""
        if self.window != 'gaussian':
            return super().encode(angle_targets)
        degrees = angle_targets.reshape(-1) * (180 / math.pi)
        # the bin of mmrotate's encode, so that its decode inverts this one
        bins = ((degrees + self.angle_offset) / self.omega).long()
        return circular_smooth_label(
            bins, self.encode_size, self.radius, dtype=angle_targets.dtype)
