"""Angle coders: how a head's angle branch represents the box angle.

``PseudoAngleCoder`` regresses the angle itself (one channel);
``CSLCoder`` classifies it over bins with circular smooth labels (Yang and
Yan, ECCV 2020; formulas in :mod:`mmdet_losses.functional.csl`). Names and
arguments are mmrotate 1.x's, so its configs carry over.
"""
import math
from typing import Tuple

from mmdet.models.task_modules.coders import BaseBBoxCoder
from torch import Tensor

from mmdet_losses.functional.csl import WINDOWS, csl_decode, csl_encode
from mmdet_losses.registry import TASK_UTILS
from mmdet_losses.structures import check_angle_version

# The angle range (start, length) in degrees that CSL cuts into bins, per
# angle version (mmdet_losses.structures.bbox.transforms): le90 and le135
# angles live in a half turn, oc angles in a quarter turn.
CSL_RANGES = {
    'le90': (-90.0, 180.0),
    'le135': (-45.0, 180.0),
    'oc': (-90.0, 90.0)
}


def _trailing_one(angles: Tensor) -> Tensor:
    # heads pass angle targets as (n, 1); the functional takes (n,)
    return angles[..., 0] if angles.dim() > 1 and angles.size(-1) == 1 \
        else angles


@TASK_UTILS.register_module()
class CSLCoder(BaseBBoxCoder):
    """Circular smooth label coder.

    Args:
        angle_version (str): ``'le90'`` (default), ``'le135'`` or ``'oc'``:
            the range cut into bins (:data:`CSL_RANGES`).
        omega (float): bin width in degrees; must divide the range.
        window (str): ``'gaussian'``, ``'triangle'``, ``'rect'`` or
            ``'pulse'``.
        radius (float): window radius in bins (the gaussian's standard
            deviation).

    Attributes:
        encoded_size (int): number of bins, the angle branch's channels.
    """

    def __init__(self,
                 angle_version: str = 'le90',
                 omega: float = 1,
                 window: str = 'gaussian',
                 radius: float = 6,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.angle_version = check_angle_version(angle_version)
        if window not in WINDOWS:
            raise ValueError(f'window must be one of {WINDOWS}, got '
                             f'{window!r}')
        start, length = CSL_RANGES[angle_version]
        bins = length / omega if omega > 0 else 0
        if not omega > 0 or abs(bins - round(bins)) > 1e-9:
            raise ValueError(f'omega must be a positive bin width in '
                             f'degrees dividing the {length:g} degree range '
                             f'of {angle_version}, got {omega}')
        self.omega = omega
        self.window = window
        self.radius = radius
        self.encoded_size = int(round(bins))
        self.encode_size = self.encoded_size  # mmdet's name for it
        self._range = (math.radians(start), math.radians(length))

    @property
    def angle_range(self) -> Tuple[float, float]:
        """``(start, length)`` of the binned range, in radians."""
        return self._range

    def encode(self, angle_targets: Tensor) -> Tensor:
        """``(n, 1)`` or ``(n,)`` angles (radians) to ``(n, encoded_size)``
        smooth labels, in the angles' float dtype."""
        angles = _trailing_one(angle_targets)
        labels = csl_encode(angles, self.encoded_size, *self._range,
                            self.window, self.radius)
        dtype = angles.dtype if angles.is_floating_point() else labels.dtype
        return labels.to(dtype)

    def decode(self, angle_preds: Tensor, keepdim: bool = False) -> Tensor:
        """``(..., encoded_size)`` scores to the ``(...)`` angles (radians)
        of their best bins' centres; ``keepdim`` keeps a last dim of 1."""
        angles = csl_decode(angle_preds, *self._range)
        return angles[..., None] if keepdim else angles


@TASK_UTILS.register_module()
class PseudoAngleCoder(BaseBBoxCoder):
    """The angle as it is: one channel, regressed."""

    encoded_size = encode_size = 1

    def encode(self, angle_targets: Tensor) -> Tensor:
        return angle_targets

    def decode(self, angle_preds: Tensor, keepdim: bool = False) -> Tensor:
        return angle_preds if keepdim else angle_preds.squeeze(-1)
