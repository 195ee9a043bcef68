from .pruned_iou_calculator import PrunedRBboxOverlaps2D, pruned_rbbox_overlaps

__all__ = ['PrunedRBboxOverlaps2D', 'pruned_rbbox_overlaps']
