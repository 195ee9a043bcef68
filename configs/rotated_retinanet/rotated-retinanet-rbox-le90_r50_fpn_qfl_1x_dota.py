# mmrotate's rotated RetinaNet (R-50-FPN, 1x, le90, DOTA-v1.0) classified
# with Quality Focal Loss (Li et al., NeurIPS 2020): on a positive anchor the
# target is the rotated IoU of the box it predicts with its ground truth
# (mmdet_losses.RetinaQFLHead, mmdet's RetinaHead with that target, which
# mmrotate's rotated RetinaNet uses). Nothing else changes. GFL's Table 1(b)
# reports QFL on horizontal RetinaNet at +0.8 AP (35.6 -> 36.4, COCO); no
# rotated number exists. Not trained by this repository (it needs a GPU and
# DOTA).
_base_ = 'mmrotate::rotated_retinanet/rotated-retinanet-rbox-le90_r50_fpn_1x_dota.py'  # noqa: E501
custom_imports = dict(imports=['mmdet_losses'], allow_failed_imports=False)

model = dict(
    bbox_head=dict(
        type='mmdet_losses.RetinaQFLHead',
        loss_cls=dict(
            _delete_=True,
            type='mmdet_losses.QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0)))
auto_scale_lr = dict(enable=False, base_batch_size=2)
