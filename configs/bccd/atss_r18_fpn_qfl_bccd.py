# BCCD proxy of the GFL paper's Table 3, QFL row: QFL (beta 2) on the joint
# classification-quality score replaces the Focal loss and the centerness
# branch; boxes stay ATSS's anchor deltas. Everything else as
# atss_r18_fpn_bccd.py. No published number on BCCD; on COCO the row reads
# 39.9 AP (GFL paper Table 3).
_base_ = './atss_r18_fpn_bccd.py'

model = dict(
    bbox_head=dict(
        loss_centerness=None,
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
