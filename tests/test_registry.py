"""Registry resolution: our scope first, mmdet behind it, and the scoped
names from a plain mmdet config."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import mmdet_losses
from mmdet_losses import registry

mmdet_losses.register_all_modules(init_default_scope=False)


def _build_in_scope(scope, reg, cfg):
    with DefaultScope.overwrite_default_scope(scope):
        return reg.build(cfg)


def test_registries_are_children_of_mmdets():
    from mmdet import registry as mmdet_registry
    for name in ('MODELS', 'TASK_UTILS', 'DATASETS', 'TRANSFORMS', 'METRICS',
                 'VISUALIZERS', 'HOOKS'):
        ours = getattr(registry, name)
        assert ours.scope == 'mmdet_losses'
        assert ours.parent is getattr(mmdet_registry, name)
        assert ours.parent.children['mmdet_losses'] is ours


def test_default_scope_resolves_ours_first_then_mmdet():
    from mmdet.models import RetinaNet
    from mmdet.registry import MODELS
    init_default_scope('mmdet_losses')
    loss = _build_in_scope('mmdet_losses', MODELS, dict(type='CIoULoss'))
    assert type(loss).__module__.startswith('mmdet_losses.')
    # everything this package does not define falls through to mmdet
    assert registry.MODELS.get('RetinaNet') is RetinaNet


def test_mmdet_scope_keeps_mmdets_loss():
    from mmdet.models.losses import CIoULoss as MMDetCIoULoss
    from mmdet.registry import MODELS
    loss = _build_in_scope('mmdet', MODELS, dict(type='CIoULoss'))
    assert type(loss) is MMDetCIoULoss


def test_plain_mmdet_config_with_custom_imports(tmp_path):
    """A mmdet config (default_scope mmdet) reaches our loss by its scoped
    name after ``custom_imports``."""
    path = tmp_path / 'retinanet_ciou.py'
    path.write_text(
        "_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mmdet_losses'], "
        'allow_failed_imports=False)\n'
        'model = dict(backbone=dict(depth=18, init_cfg=None),\n'
        '             neck=dict(in_channels=[64, 128, 256, 512]),\n'
        '             bbox_head=dict(reg_decoded_bbox=True,\n'
        "                 loss_bbox=dict(type='mmdet_losses.CIoULoss')))\n")
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmdet'
    from mmdet.registry import MODELS
    model = _build_in_scope('mmdet', MODELS, cfg.model)
    assert type(model).__module__.startswith('mmdet.')
    loss = model.bbox_head.loss_bbox
    assert type(loss).__name__ == 'CIoULoss'
    assert type(loss).__module__.startswith('mmdet_losses.')


def test_our_configs_are_inheritable_by_package_name(tmp_path):
    path = tmp_path / 'child.py'
    path.write_text("_base_ = 'mmdet_losses::quickstart/"
                    "gfl_r18_fpn_qfl-dfl-ciou_synthetic.py'\n"
                    'model = dict(bbox_head=dict(num_classes=7))\n')
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmdet_losses'
    assert cfg.model.bbox_head.num_classes == 7
    assert cfg.model.backbone.depth == 18


def test_unknown_type_lists_our_names():
    from mmdet.registry import MODELS

    from mmdet_losses.utils.registry_errors import unknown_type_explained
    with pytest.raises(KeyError) as info:
        with unknown_type_explained():
            _build_in_scope('mmdet_losses', MODELS, dict(type='CIoULos'))
    message = str(info.value)
    assert 'Unknown model type "CIoULos"' in message
    assert 'mmdet_losses registers these model types' in message
    assert 'SyntheticShapes' not in message  # a dataset, not a model
    assert 'CIoULoss' in message
    assert 'Closest known names' in message


def test_unknown_dataset_type_lists_our_datasets():
    from mmdet.registry import DATASETS

    from mmdet_losses.utils.registry_errors import unknown_type_explained
    with pytest.raises(KeyError, match='SyntheticShapesDataset'):
        with unknown_type_explained():
            _build_in_scope('mmdet_losses', DATASETS,
                            dict(type='SyntheticShapeDataset'))
