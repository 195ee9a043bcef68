# The CSL quickstart (rotated-retinanet-rbox-le90_r18_fpn_csl-gaussian_
# synthetic.py) with mmrotate's own CSLCoder as shipped, for comparison: in
# this setting (45 bins of 4 degrees, gaussian, radius 3) its label is zero
# in every bin on a CPU, so the angle branch learns nothing
# (docs/piou_csl.md#csl). Not a setting to train with.
_base_ = './rotated-retinanet-rbox-le90_r18_fpn_csl-gaussian_synthetic.py'

model = dict(bbox_head=dict(angle_coder=dict(type='CSLCoder')))
