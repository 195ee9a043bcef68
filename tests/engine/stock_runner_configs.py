"""A config as a user of mmdet's own tools writes it: mmdet's scope, no
``runner_type``, this package reached through ``custom_imports`` and scoped
``type`` names. A small RetinaNet on the synthetic shapes dataset (read by
mmdet's ``CocoDataset``), trained at 64 x 64 px."""
import os.path as osp

CLASSES = ('rectangle', 'ellipse', 'triangle', 'cross')
SAFETY_HOOK = dict(type='mmdet_losses.LossSafetyHook')


def stock_config(data_root: str,
                 work_dir: str,
                 safety: bool = True,
                 max_epochs: int = 1,
                 load_from: str = None,
                 **head) -> dict:
    """The config's variables; ``head`` overrides the RetinaHead's keys.
    ``safety`` adds the documented line ``custom_hooks = [SAFETY_HOOK]``;
    ``load_from`` resumes from that checkpoint."""
    data_root = data_root.rstrip('/') + '/'
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='PackDetInputs')
    ]
    bbox_head = dict(
        type='RetinaHead',
        num_classes=len(CLASSES),
        in_channels=32,
        stacked_convs=1,
        feat_channels=32,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=1,
            ratios=[1.0],
            strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
        loss_cls=dict(
            type='mmdet_losses.FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25),
        loss_bbox=dict(type='mmdet_losses.L1Loss'))
    bbox_head.update(head)
    cfg = dict(
        default_scope='mmdet',
        custom_imports=dict(
            imports=['mmdet_losses'], allow_failed_imports=False),
        model=dict(
            type='RetinaNet',
            data_preprocessor=dict(
                type='DetDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=True,
                pad_size_divisor=32),
            backbone=dict(
                type='ResNet',
                depth=18,
                base_channels=16,
                num_stages=4,
                out_indices=(1, 2, 3),
                norm_cfg=dict(type='BN', requires_grad=True),
                init_cfg=None),
            neck=dict(
                type='FPN',
                in_channels=[32, 64, 128],
                out_channels=32,
                num_outs=3),
            bbox_head=bbox_head,
            train_cfg=dict(
                assigner=dict(
                    type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4),
                sampler=dict(type='PseudoSampler'),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            test_cfg=dict(
                nms_pre=100,
                score_thr=0.0,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=10)),
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='CocoDataset',
                data_root=data_root,
                metainfo=dict(classes=CLASSES),
                ann_file='annotations/train.json',
                data_prefix=dict(img='train/'),
                filter_cfg=dict(filter_empty_gt=True),
                pipeline=pipeline)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.001, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)),
        work_dir=work_dir,
        randomness=dict(seed=0),
        log_level='WARNING',
        load_from=load_from,
        resume=load_from is not None)
    if safety:
        cfg['custom_hooks'] = [SAFETY_HOOK]
    return cfg


def write_stock_config(path: str, *args, **kwargs) -> str:
    """:func:`stock_config` written as a config file at ``path``: read back
    with ``Config.fromfile``, its ``custom_imports`` run as for a user."""
    cfg = stock_config(*args, **kwargs)
    with open(path, 'w') as f:
        f.writelines(f'{key} = {value!r}\n' for key, value in cfg.items())
    return osp.abspath(path)
