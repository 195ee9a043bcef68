# GFL paper Table 1(c): QFL's beta = 1 (default 2) on ATSS with QFL,
# everything else as atss/atss_r50_fpn_qfl_1x_coco.py. Should land near
# 39.0 AP.
_base_ = '../../atss/atss_r50_fpn_qfl_1x_coco.py'

model = dict(bbox_head=dict(loss_cls=dict(beta=1)))
