# GFL with a CIoU box loss instead of GIoU (same weight 2), everything else
# as gfl_r50_fpn_1x_coco.py. No published number for this combination;
# the GIoU original reaches 40.2 AP (GFL paper Table 3).
_base_ = './gfl_r50_fpn_1x_coco.py'

model = dict(bbox_head=dict(loss_bbox=dict(type='CIoULoss', loss_weight=2.0)))
