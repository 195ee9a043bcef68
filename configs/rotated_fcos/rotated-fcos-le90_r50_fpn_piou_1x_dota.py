# Rotated FCOS with the PIoU loss (Chen et al., ECCV 2020) on the decoded
# boxes (angle branch included) instead of the rotated IoU loss; otherwise
# the baseline (R-50-FPN, 1x, le90, DOTA-v1.0 single-scale 1024 patches).
# Published: no FCOS + PIoU number exists (the paper reports 60.5 mAP for
# CenterNet-OBB DLA-34 + PIoU on DOTA); the baseline is 71.28 (mmrotate
# 1.x). Not measured by this repository (it needs a GPU and DOTA).
_base_ = './rotated-fcos-le90_r50_fpn_1x_dota.py'

model = dict(
    bbox_head=dict(
        loss_bbox=dict(
            _delete_=True,
            type='PIoULoss',
            k=10,
            union='soft',
            # the authors' training form: -2 ln PIoU, PIoU clamped to
            # [0.1, 1] (see docs/piou_csl.md: -ln PIoU of nearly
            # disjoint pairs gave gradients that diverged)
            mode='official',
            loss_weight=1.0)))
