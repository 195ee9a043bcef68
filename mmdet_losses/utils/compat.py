"""Small fixes that make mmengine 0.10 work with this package and torch 2.6+.

Installed once, on ``import mmdet_losses``, where mmengine is installed:

* mmengine resolves ``'pkg::path'`` configs only for the packages it knows:
  we add this one, and point it at this package's directory, which mmengine
  cannot find by itself for an editable (PEP 660) install.
* torch >= 2.6 loads with ``weights_only=True``, which refuses the
  ``HistoryBuffer`` and numpy objects of mmengine's own checkpoints, so
  ``--resume`` fails; see :mod:`mmdet_losses.utils.checkpoint`.
* checkpoints are written atomically, so a killed run never leaves a
  truncated file behind.
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


def install() -> None:
    global _installed
    if _installed:
        return
    _register_config_package()
    from .checkpoint import install_checkpoint_io
    install_checkpoint_io()
    _installed = True
