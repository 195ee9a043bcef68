# Quickstart: the rotated FCOS quickstart with the PIoU loss (Chen et al.,
# ECCV 2020) on the decoded boxes instead of the rotated IoU loss. Same
# data, model and schedule.
_base_ = './rotated-fcos-le90_r18_fpn_synthetic.py'

model = dict(
    bbox_head=dict(
        loss_bbox=dict(
            _delete_=True,
            type='PIoULoss',
            k=10,
            union='soft',
            # the authors' training form: -2 ln PIoU, PIoU clamped to
            # [0.1, 1]: no gradient from nearly disjoint pairs, on which
            # -ln PIoU pulls hardest (docs/piou_csl.md, gradient table)
            mode='official',
            loss_weight=1.0)))
