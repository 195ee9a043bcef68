# Quickstart: the rotated RetinaNet quickstart with the PIoU loss (Chen et
# al., ECCV 2020) on the decoded boxes instead of L1 on the deltas. Same
# data, model and schedule; the README compares the two (3 seeds).
_base_ = './rotated-retinanet-rbox-le90_r18_fpn_synthetic.py'

model = dict(
    bbox_head=dict(
        # the loss compares decoded (cx, cy, w, h, angle) boxes in pixels
        reg_decoded_bbox=True,
        loss_bbox=dict(
            _delete_=True,
            type='mmdet_losses.PIoULoss',
            k=10,
            union='soft',
            # the authors' training form: -2 ln PIoU, PIoU clamped to
            # [0.1, 1]: no gradient from nearly disjoint pairs, on which
            # -ln PIoU pulls hardest (docs/piou_csl.md, gradient table)
            mode='official',
            loss_weight=1.0)))
