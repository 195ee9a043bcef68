from typing import Optional, Union

from mmdet.structures.bbox import BaseBoxes, get_box_tensor
from torch import Tensor

from mmdet_losses.functional.piou import (CHUNK_PIXELS, MAX_HULL_PIXELS, MODES,
                                          UNIONS, piou_loss)
from mmdet_losses.functional.reduction import weight_reduce_loss
from mmdet_losses.registry import MODELS
from .base import BaseLoss


@MODELS.register_module()
class PIoULoss(BaseLoss):
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

    def forward(self,
                pred: Union[Tensor, BaseBoxes],
                target: Union[Tensor, BaseBoxes],
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """
        Args:
            pred, target: ``(n, 5)`` rotated boxes.
            weight: ``(n,)`` or ``(n, 5)`` (averaged to ``(n,)``) weights.
            avg_factor: divides the sum instead of n under ``'mean'``.
            reduction_override: None, ``'none'``, ``'mean'`` or ``'sum'``.
        """
        reduction = self.resolve_reduction(reduction_override)
        pred, target = get_box_tensor(pred), get_box_tensor(target)
        if weight is not None and weight.dim() > 1:
            weight = weight.mean(-1)
        keep = None if weight is None else (weight > 0).nonzero()[:, 0]
        if keep is None:
            loss = self._pairs(pred, target)
        else:
            # the other rows may hold anything (zero targets, huge boxes):
            # they stay out of the computation, and their loss is zero
            kept = self._pairs(pred[keep], target[keep])
            loss = kept.new_zeros(pred.size(0)).index_add(0, keep, kept)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction,
                                                     avg_factor)

    def _pairs(self, pred: Tensor, target: Tensor) -> Tensor:
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
