# BCCD proxy of the GFL paper's Table 3, DFL row: ATSS's Focal loss and
# centerness branch, with GFL's general distribution (reg_max 16, bin
# interval 1) learnt by DFL (weight 0.25) and GIoU on the decoded boxes.
# Everything else as atss_r18_fpn_bccd.py. No published number on BCCD; on
# COCO the row reads 39.5 AP (GFL paper Table 3).
_base_ = './atss_r18_fpn_bccd.py'

model = dict(
    bbox_head=dict(
        bbox_repr='general',
        bbox_coder=dict(_delete_=True, type='DistancePointBBoxCoder'),
        loss_dfl=dict(
            _delete_=True, type='DistributionFocalLoss', loss_weight=0.25)))
