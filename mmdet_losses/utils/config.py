"""Build a config's parts in its own default scope.

mmengine tags every dict a config inherits from ``'mmdet::...'`` with
``_scope_='mmdet'``, and builds it, and everything built inside it, in
mmdet's scope. A config with ``default_scope='mmdet_losses'`` that inherits
mmdet's GFL would then still get mmdet's losses. Our registries are children
of mmdet's, so re-tagging those dicts with our scope changes only the names
this package overrides; everything else still falls through to mmdet.
"""
import os
import os.path as osp
from typing import Any, Iterable, List, Optional

from ..registry import SCOPE


def rescope_config(cfg: Any,
                   scope: str = SCOPE,
                   parents: Iterable[str] = ('mmdet', )) -> Any:
    """Replace ``_scope_`` tags naming one of ``parents`` by ``scope``,
    recursively and in place; returns ``cfg``."""
    parents = tuple(parents)
    if isinstance(cfg, dict):
        if cfg.get('_scope_') in parents:
            cfg['_scope_'] = scope
        for value in cfg.values():
            rescope_config(value, scope, parents)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            rescope_config(value, scope, parents)
    return cfg


def rescope_to_default(cfg) -> Any:
    """:func:`rescope_config` for configs whose default scope is ours."""
    if cfg.get('default_scope') == SCOPE:
        rescope_config(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg)
    return cfg


def _dataset_leaves(dataset: Any) -> List[dict]:
    """The datasets of a dataloader's ``dataset`` config, wrappers
    (``RepeatDataset``, ``ClassBalancedDataset``, ``ConcatDataset``,
    ``MultiImageMixDataset``...) unwrapped: the dicts without a ``dataset``
    or ``datasets`` entry."""
    if not isinstance(dataset, dict):
        return []
    if 'dataset' in dataset or 'datasets' in dataset:
        inner = list(dataset.get('datasets') or [])
        if dataset.get('dataset') is not None:
            inner.append(dataset['dataset'])
        return [leaf for d in inner for leaf in _dataset_leaves(d)]
    return [dataset]


def _under(path: str, root: str) -> Optional[str]:
    """``path`` relative to ``root`` ('' for ``root`` itself), or None if it
    is not inside it; by the strings, as mmdet's configs build them."""
    path, root = osp.normpath(path), osp.normpath(root)
    if path == root:
        return ''
    if root == '.':
        return None if osp.isabs(path) or path.startswith('..') else path
    if path.startswith(root.rstrip(os.sep) + os.sep):
        return path[len(root.rstrip(os.sep)) + 1:]
    return None


def set_data_root(cfg: Any, root: Optional[str]) -> Any:
    """Point a parsed config at the dataset in ``root`` (``--data-root``);
    in place, returns ``cfg``. ``root`` None changes nothing.

    A config's ``data_root`` is copied into its dataloaders and evaluators
    when it is parsed (mmdet's CocoMetric has ``ann_file=data_root +
    'annotations/instances_val2017.json'``), so ``--cfg-options
    data_root=...`` moves nothing. This replaces the ``data_root`` of every
    ``*_dataloader``'s dataset (wrappers unwrapped), rebases every
    evaluator's ``ann_file`` that lies under the old root, and sets the
    config's own ``data_root``. The old root is the one the datasets share
    (the config's ``data_root`` if they have several); a dataset elsewhere
    fails with a ``ValueError`` rather than staying behind.
    """
    if root is None:
        return cfg
    new = osp.join(root, '')  # mmdet's configs end their roots with '/'
    leaves = [
        leaf for key in cfg.keys()
        if key.endswith('_dataloader') and isinstance(cfg[key], dict)
        for leaf in _dataset_leaves(cfg[key].get('dataset'))
    ]
    rooted = [leaf for leaf in leaves if leaf.get('data_root') is not None]
    roots = list(dict.fromkeys(leaf['data_root'] for leaf in rooted))
    old = cfg.get('data_root')
    if len(roots) == 1:
        old = roots[0]
    elif not roots and old is None:
        raise ValueError('--data-root: no dataset of this config has a '
                         'data_root to replace')
    elif roots and (old is None or any(_under(r, old) is None for r in roots)):
        raise ValueError(
            f'--data-root: the datasets of this config have several roots '
            f'{roots}, not all under the config\'s data_root {old!r}; set '
            'them one by one with --cfg-options')
    for leaf in rooted:
        leaf['data_root'] = osp.join(new, _under(leaf['data_root'], old))
    for key in cfg.keys():
        if not key.endswith('_evaluator'):
            continue
        evaluators = cfg[key]
        if isinstance(evaluators, dict):
            evaluators = evaluators.get('metrics', [evaluators])
        for evaluator in evaluators or []:
            if isinstance(evaluator, dict) and isinstance(
                    evaluator.get('ann_file'), str):
                rel = _under(evaluator['ann_file'], old)
                if rel is not None:
                    evaluator['ann_file'] = osp.join(new, rel)
    cfg['data_root'] = new
    return cfg
