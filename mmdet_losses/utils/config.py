"""Build a config's parts in its own default scope.

mmengine tags every dict a config inherits from ``'mmdet::...'`` with
``_scope_='mmdet'``, and builds it, and everything built inside it, in
mmdet's scope. A config with ``default_scope='mmdet_losses'`` that inherits
mmdet's GFL would then still get mmdet's losses. Our registries are children
of mmdet's, so re-tagging those dicts with our scope changes only the names
this package overrides; everything else still falls through to mmdet.
"""
from typing import Any, Iterable

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
