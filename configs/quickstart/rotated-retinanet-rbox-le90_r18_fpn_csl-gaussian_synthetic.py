# Quickstart: the rotated RetinaNet quickstart with the angle classified by
# circular smooth labels (CSL, Yang and Yan, ECCV 2020) in mmrotate's DOTA
# setting (configs/csl/ of mmrotate: AngleBranchRetinaHead, 45 bins of 4
# degrees, a gaussian window of radius 3 bins, SmoothFocalLoss of weight 0.8
# on the soft labels), with this package's CircularSmoothLabelCoder: the
# paper's gaussian window, where mmrotate's CSLCoder gives an all-zero label
# in this setting (docs/piou_csl.md#csl). Same data, model and schedule as
# the L1 quickstart; the README compares them (3 seeds).
_base_ = './rotated-retinanet-rbox-le90_r18_fpn_synthetic.py'
angle_version = 'le90'

model = dict(
    bbox_head=dict(
        type='AngleBranchRetinaHead',
        angle_coder=dict(
            type='mmdet_losses.CircularSmoothLabelCoder',
            angle_version=angle_version,
            omega=4,
            window='gaussian',
            radius=3),
        loss_angle=dict(
            type='SmoothFocalLoss', gamma=2.0, alpha=0.25, loss_weight=0.8)))
