# GFL paper Table 2(c): bin interval delta = 4 strides (default 1) with
# n = 16 bins, so the distribution covers 16 x 4 strides; GFLAblationHead,
# everything else as gfl/gfl_r50_fpn_1x_coco.py. Should land near 39.8 AP.
_base_ = '../gfl_r50_fpn_1x_coco.py'

model = dict(bbox_head=dict(type='GFLAblationHead', bin_interval=4))
