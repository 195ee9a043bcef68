# ATSS with QFL (beta 2): the joint classification-quality score replaces
# the Focal loss and the centerness branch; boxes stay ATSS's anchor deltas
# ('dirac'). GFLAblationHead, everything else as atss_r50_fpn_1x_coco.py.
# Should land near 39.9 AP (GFL paper Table 3, QFL row; Table 1(a) ATSS
# joint representation 39.9; Table 1(c) beta = 2).
_base_ = './atss_r50_fpn_1x_coco.py'

model = dict(
    bbox_head=dict(
        type='GFLAblationHead',
        bbox_repr='dirac',
        loss_dfl=None,
        loss_centerness=None,
        loss_cls=dict(
            _delete_=True,
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
