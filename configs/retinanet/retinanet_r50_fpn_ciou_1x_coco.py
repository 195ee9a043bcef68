# RetinaNet with a CIoU loss on the decoded boxes (reg_decoded_bbox) instead
# of L1 on the anchor deltas; weight 2 as in ATSS and GFL. Everything else
# as retinanet_r50_fpn_1x_coco.py. No published number for this
# combination; the L1 original reaches 36.5 AP (mmdet 3.3 model zoo).
_base_ = './retinanet_r50_fpn_1x_coco.py'

model = dict(
    bbox_head=dict(
        reg_decoded_bbox=True,
        loss_bbox=dict(type='CIoULoss', loss_weight=2.0)))
