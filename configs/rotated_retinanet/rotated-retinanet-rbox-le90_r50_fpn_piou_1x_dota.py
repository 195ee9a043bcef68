# Rotated RetinaNet with the PIoU loss (Chen et al., ECCV 2020) on the
# decoded boxes instead of L1 on the deltas; otherwise the baseline
# (R-50-FPN, 1x, le90, DOTA-v1.0 single-scale 1024 patches, gap 200).
# Published: no RetinaNet + PIoU number exists (mmrotate never ported PIoU;
# the paper reports 60.5 mAP for CenterNet-OBB DLA-34 + PIoU on DOTA). The
# L1 baseline is 68.42 (mmrotate 1.x). Not measured by this repository (it
# needs a GPU and DOTA).
_base_ = './rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'

model = dict(
    bbox_head=dict(
        # the loss compares decoded (cx, cy, w, h, angle) boxes in pixels
        reg_decoded_bbox=True,
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
