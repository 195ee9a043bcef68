"""Checks of a built detector against its config, so that a wrong
combination fails before training. ``mmdet_losses.Runner`` runs them when it
builds the model; under mmengine's own runner, ``LossSafetyHook`` runs them
before the run (``custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]``).

* an IoU-family box loss on a head that regresses deltas (mmdet's
  ``AnchorHead``/``BBoxHead`` loss with ``reg_decoded_bbox=False``) compares
  deltas as if they were boxes: silently wrong (mmdet issues #4454, #4486);
* a head whose ``num_classes`` differs from the training dataset's classes;
* a DFL ``reg_max`` that the regression targets can exceed (warning).
"""
import warnings
from typing import Iterable, Optional, Tuple

from mmengine.logging import print_log

IOU_FAMILY = ('IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss', 'EIoULoss',
              'SIoULoss', 'BoundedIoULoss', 'PIoULoss')
RESIZE_TYPES = ('Resize', 'RandomResize', 'RandomChoiceResize',
                'FixScaleResize')


def _class_names(obj) -> Iterable[str]:
    return (cls.__name__ for cls in type(obj).__mro__)


def _honours_reg_decoded_bbox(head) -> bool:
    """Whether the head's loss is the mmdet code path that decodes
    predictions only when ``reg_decoded_bbox`` is set."""
    from mmdet.models.dense_heads import AnchorHead
    from mmdet.models.roi_heads.bbox_heads import BBoxHead
    if isinstance(head, AnchorHead):
        return (type(head).loss_by_feat_single
                is AnchorHead.loss_by_feat_single)
    return isinstance(head, BBoxHead)


def check_decoded_boxes(model) -> None:
    for name, module in model.named_modules():
        loss = getattr(module, 'loss_bbox', None)
        if loss is None or getattr(module, 'reg_decoded_bbox', True):
            continue
        iou_name = next((n for n in _class_names(loss) if n in IOU_FAMILY),
                        None)
        if iou_name and _honours_reg_decoded_bbox(module):
            raise ValueError(
                f'model.{name} ({type(module).__name__}) uses {iou_name} '
                'but regresses box deltas (reg_decoded_bbox=False): an '
                'IoU-family loss must compare decoded boxes. Set '
                f'model.{name}.reg_decoded_bbox=True (the head then decodes '
                'its predictions before the loss), or use a delta loss such '
                'as L1Loss/SmoothL1Loss.')


def _train_dataset_cfg(cfg) -> Optional[dict]:
    loader = cfg.get('train_dataloader') or {}
    dataset = loader.get('dataset')
    while isinstance(dataset, dict) and 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def dataset_classes(cfg) -> Optional[Tuple[str, ...]]:
    """The training dataset's class names, from its config or its class."""
    dataset = _train_dataset_cfg(cfg)
    if not isinstance(dataset, dict):
        return None
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes:
        return tuple(classes)
    from ..registry import DATASETS
    try:
        dataset_cls = DATASETS.get(dataset.get('type', ''))
    except Exception:  # a scoped or unknown name: nothing to compare
        return None
    meta = getattr(dataset_cls, 'METAINFO', None) or {}
    return tuple(meta['classes']) if meta.get('classes') else None


def check_num_classes(model, cfg) -> None:
    classes = dataset_classes(cfg)
    if not classes:
        return
    for name, module in model.named_modules():
        if not hasattr(module, 'loss_cls') or \
                not hasattr(module, 'num_classes'):
            continue
        if any(n.startswith('RPN') for n in _class_names(module)):
            continue  # proposals are class-agnostic
        if module.num_classes != len(classes):
            raise ValueError(
                f'model.{name}.num_classes={module.num_classes} but the '
                f'training dataset has {len(classes)} classes {classes}: '
                f'set model.{name}.num_classes={len(classes)}.')


def _max_train_side(cfg) -> Optional[float]:
    dataset = _train_dataset_cfg(cfg)
    sides = []
    for step in (dataset or {}).get('pipeline', []) or []:
        if step.get('type') in RESIZE_TYPES:
            scale = step.get('scale') or step.get('scales')
            flat = []
            stack = [scale]
            while stack:
                item = stack.pop()
                if isinstance(item, (list, tuple)):
                    stack.extend(item)
                elif isinstance(item, (int, float)):
                    flat.append(item)
            if flat:
                sides.append(max(flat))
    return max(sides) if sides else None


def check_dfl_range(model, cfg) -> None:
    side = _max_train_side(cfg)
    if side is None:
        return
    for name, module in model.named_modules():
        if not hasattr(module, 'loss_dfl') or not hasattr(module, 'reg_max'):
            continue
        generator = getattr(module, 'prior_generator', None)
        strides = getattr(generator, 'strides', None)
        if not strides:
            continue
        largest = max(
            max(s) if isinstance(s, (tuple, list)) else s for s in strides)
        interval = getattr(module, 'dfl_interval', 1.0)
        reach = module.reg_max * interval * largest
        if side / 2 > reach:
            message = (
                f'model.{name}: DFL covers distances up to reg_max x '
                f'interval x stride = {module.reg_max} x {interval:g} x '
                f'{largest} = {reach:g} px, but training images reach '
                f'{side:g} px: targets of large boxes can exceed the last '
                'bin and are clamped. Raise reg_max or add a coarser level.')
            warnings.warn(message)
            print_log(message, logger='current', level=30)


def check_detector(model, cfg) -> None:
    """Run every check; raise ``ValueError`` on the first error."""
    check_decoded_boxes(model)
    check_num_classes(model, cfg)
    check_dfl_range(model, cfg)
