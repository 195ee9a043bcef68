"""mmdet_losses: the detection loss toolkit for MMDetection 3.x.

``import mmdet_losses`` (and ``import mmdet_losses.functional``, the pure
functional core) needs only torch: it imports no mmengine, mmdet or mmcv
module and changes nothing in them. The registered modules are imported on
first use through :mod:`mmdet_losses.registry`.

The fixes this package makes to mmengine (``'mmdet_losses::'`` config
paths, loading mmengine checkpoints on torch >= 2.6, atomic checkpoint
writes; see :mod:`mmdet_losses.utils.compat`) are installed only on
request: by :func:`install_mmengine_compat`, :func:`register_all_modules`,
this package's ``Runner`` and tools, and the ``LossSafetyHook`` that a
config for mmengine's own runner lists in ``custom_hooks``.
"""
from .version import __version__, version_info

__all__ = [
    '__version__', 'version_info', 'register_all_modules',
    'install_mmengine_compat'
]


def install_mmengine_compat() -> None:
    """Install this package's fixes into mmengine (idempotent); see
    :mod:`mmdet_losses.utils.compat`."""
    from .utils.compat import install
    install()


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of this package (and mmdet's) into the registries
    and install this package's fixes into mmengine
    (:func:`install_mmengine_compat`).

    Args:
        init_default_scope: also make ``'mmdet_losses'`` the current default
            scope, as mmdet's ``register_all_modules`` does for ``'mmdet'``.
    """
    from .utils.setup_env import register_all_modules as _register
    _register(init_default_scope)


def __getattr__(name: str):
    # ``mmdet_losses.PIoULoss`` and every other class this package
    # registers, imported on first access (mmdet_losses.registry.registered
    # says why: a config of another scope, e.g. mmrotate's, reaches
    # ``type='mmdet_losses.PIoULoss'`` through this attribute)
    found = None
    # class names only: ``from mmdet_losses import functional`` asks for
    # its submodule here first, and must not import mmdet for it
    if name[:1].isupper():
        from .registry import registered
        found = registered(name)
    if found is None:
        raise AttributeError(f"module 'mmdet_losses' has no attribute "
                             f'{name!r}')
    return found
