# BCCD proxy of the GFL paper's Table 3, QFL + DFL row (GFL): QFL on the
# joint score, the general distribution learnt by DFL, GIoU on the decoded
# boxes. Everything else as atss_r18_fpn_bccd.py. Also the GIoU row of the
# BCCD IoU-loss comparison. No published number on BCCD; on COCO the row
# reads 40.2 AP (GFL paper Table 3).
_base_ = './atss_r18_fpn_dfl_bccd.py'

model = dict(
    bbox_head=dict(
        loss_centerness=None,
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
