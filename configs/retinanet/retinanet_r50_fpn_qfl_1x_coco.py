# RetinaNet with Quality Focal Loss (beta 2) instead of Focal loss: the
# classification target of a positive anchor is the IoU of its decoded box
# with its ground truth (RetinaQFLHead). Everything else, L1 on the deltas
# included, as retinanet_r50_fpn_1x_coco.py. Should land near 36.4 AP
# (GFL paper Table 1(b): RetinaNet 35.6 -> 36.4 with QFL).
_base_ = './retinanet_r50_fpn_1x_coco.py'

model = dict(
    bbox_head=dict(
        type='RetinaQFLHead',
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
