"""mmdet_losses: the detection loss toolkit for MMDetection 3.x.

``import mmdet_losses`` is cheap and needs only torch: the pure functional
core lives in :mod:`mmdet_losses.functional`. Where mmengine is installed,
the import also lets mmengine's ``'mmdet_losses::path/to/config.py'`` syntax
find the configs this package ships, and makes mmengine's checkpoint loading
work on torch >= 2.6; the registered modules are imported on first use through
:mod:`mmdet_losses.registry`.
"""
from .version import __version__, version_info

__all__ = ['__version__', 'version_info', 'register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of this package (and mmdet's) into the registries.

    Args:
        init_default_scope: also make ``'mmdet_losses'`` the current default
            scope, as mmdet's ``register_all_modules`` does for ``'mmdet'``.
    """
    from .utils.setup_env import register_all_modules as _register
    _register(init_default_scope)


def _install_mmengine_compat() -> None:
    try:
        import mmengine  # noqa: F401
    except ImportError:
        return
    from .utils.compat import install
    install()


_install_mmengine_compat()
