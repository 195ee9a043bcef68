# GFL paper Table 2(b): reg_max n = 12 (default 16) with bin interval 1,
# everything else as gfl/gfl_r50_fpn_1x_coco.py. Should land near 40.1 AP.
_base_ = '../gfl_r50_fpn_1x_coco.py'

model = dict(bbox_head=dict(reg_max=12))
