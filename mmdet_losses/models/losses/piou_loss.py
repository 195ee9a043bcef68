from typing import Optional

from torch import Tensor

from mmdet_losses.functional.piou import (CHUNK_PIXELS, MAX_HULL_PIXELS, MODES,
                                          UNIONS, piou_loss)
from mmdet_losses.registry import MODELS
from .base import RotatedPairLoss


@MODELS.register_module()
class PIoULoss(RotatedPairLoss):
    """PIoU loss (Chen et al., ECCV 2020) between decoded rotated boxes; the
    formula is :func:`mmdet_losses.functional.piou.piou_loss`.

    Boxes are mmrotate's ``rbox`` (``RotatedBoxes`` or ``(n, 5)`` tensors
    ``(cx, cy, w, h, t)``, pixels and radians, any angle version): a head
    passes them with ``reg_decoded_bbox=True``, e.g. mmrotate's rotated
    RetinaNet or ``RotatedFCOSHead`` with
    ``loss_bbox=dict(type='mmdet_losses.PIoULoss')``. Only pairs with a
    positive weight are computed: dense heads hand the loss every anchor,
    with zero weights and zero targets on the negatives.

    Args:
        k (float): kernel sharpness (paper: 10).
        union (str): ``'soft'`` (paper, default) or ``'hard'``.
        mode (str): ``'log'`` (paper: ``-ln PIoU``, default), ``'linear'``
            (``1 - PIoU``) or ``'official'`` (``-2 ln`` of PIoU clamped to
            [0.1, 1], the authors' code).
        eps (float): lower clamp of PIoU under ``'log'``.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight (float): multiplies the loss.
        chunk_pixels (int): pixel terms computed at once (memory bound).
        max_hull_pixels (int, optional): largest pixel window of one pair
            computed pixel by pixel; larger ones (diverged predictions) are
            sampled on a coarser grid. None: all exact.
        samples_per_pixel (int): samples per pixel side (1: the paper's
            pixel grid; more smooths the count on small boxes).
    """

    def __init__(self,
                 k: float = 10.0,
                 union: str = 'soft',
                 mode: str = 'log',
                 eps: float = 1e-6,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 chunk_pixels: int = CHUNK_PIXELS,
                 max_hull_pixels: Optional[int] = MAX_HULL_PIXELS,
                 samples_per_pixel: int = 1) -> None:
        super().__init__(reduction, loss_weight)
        # wrong names fail when the config is built, not at the first batch
        if union not in UNIONS:
            raise ValueError(f'union must be one of {UNIONS}, got {union!r}')
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.k = k
        self.union = union
        self.mode = mode
        self.eps = eps
        self.chunk_pixels = chunk_pixels
        self.max_hull_pixels = max_hull_pixels
        self.samples_per_pixel = samples_per_pixel

    def pairs(self, pred: Tensor, target: Tensor) -> Tensor:
        return piou_loss(
            pred,
            target,
            k=self.k,
            union=self.union,
            mode=self.mode,
            eps=self.eps,
            chunk_pixels=self.chunk_pixels,
            max_hull_pixels=self.max_hull_pixels,
            samples_per_pixel=self.samples_per_pixel)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', k={self.k}, union={self.union!r}, '
                f'mode={self.mode!r}')
