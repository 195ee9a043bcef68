# BCCD IoU-loss comparison: GFL (gfl_r18_fpn_bccd.py) with a DIoU box loss
# instead of GIoU, same weight 2. No published number; the DIoU paper
# (YOLOv3 on VOC07) reports 47.73 AP for GIoU, 48.10 for DIoU and 49.21 for
# CIoU.
_base_ = './gfl_r18_fpn_bccd.py'

model = dict(bbox_head=dict(loss_bbox=dict(type='DIoULoss', loss_weight=2.0)))
