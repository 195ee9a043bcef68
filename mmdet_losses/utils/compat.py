"""Fixes that make mmengine 0.10 work with this package and torch 2.6+.

* mmengine resolves ``'pkg::path'`` configs only for the packages it knows:
  we add this one, and point it at this package's directory, which mmengine
  cannot find by itself for an editable (PEP 660) install.
* torch >= 2.6 loads with ``weights_only=True``, which refuses the
  ``HistoryBuffer`` and numpy objects of mmengine's own checkpoints, so
  ``--resume`` fails; see :mod:`mmdet_losses.utils.checkpoint`.
* checkpoints are written atomically, so a killed run never leaves a
  truncated file behind.

Each of these replaces a piece of mmengine for the whole process, so none
happens on import: importing a module of this package, whether by
``import``, by a config's ``custom_imports`` or by mmengine resolving a
``type='mmdet_losses.X'``, leaves mmengine's config lookup, checkpoint
loader and file backend as they were. :func:`install` replaces them, and
it is called by whatever states that a run uses this package with mmengine:

* ``mmdet_losses.install_mmengine_compat()`` (this function, by hand);
* ``mmdet_losses.register_all_modules()``;
* constructing :class:`mmdet_losses.engine.Runner`;
* constructing :class:`mmdet_losses.engine.hooks.LossSafetyHook`, which
  mmengine's own ``Runner`` does for a config listing it in ``custom_hooks``
  (hooks are built before ``train``/``test`` loads a checkpoint);
* this package's tools (through ``runner_setup.load_config``).

The config path lookup only helps a config read after the install: a config
that inherits ``'mmdet_losses::...'`` must be read by one of our tools or
after one of the calls above.
"""
import os.path as osp

PACKAGE = 'mmdet_losses'
_installed = False


def _register_config_package() -> None:
    import mmengine.config.config as config_module
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)

    original = config_module.get_installed_path
    if getattr(original, '_mmdet_losses', False):
        return

    def get_installed_path(package: str) -> str:
        # mmengine derives the path from the distribution's location, which
        # for an editable install is site-packages, not the source tree.
        if package == PACKAGE:
            return osp.dirname(osp.dirname(osp.abspath(__file__)))
        return original(package)

    get_installed_path._mmdet_losses = True
    config_module.get_installed_path = get_installed_path


def is_installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _installed


def install() -> None:
    """Install the three fixes into mmengine; later calls do nothing."""
    global _installed
    if _installed:
        return
    _register_config_package()
    from .checkpoint import install_checkpoint_io
    install_checkpoint_io()
    _installed = True
