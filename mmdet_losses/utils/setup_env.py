"""``register_all_modules``: the entry point of a script that builds this
package's modules itself rather than through a runner."""
import datetime
import warnings

from mmengine import DefaultScope

from ..registry import SCOPE
from .compat import install as install_compat


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmdet's modules and this package's, install this package's
    fixes into mmengine (:mod:`.compat`), and optionally make
    ``'mmdet_losses'`` the default scope.

    mmdet's modules are imported first, so that ours, registered in child
    registries, can fall back to them.
    """
    install_compat()
    from mmdet.utils import register_all_modules as register_mmdet
    register_mmdet(init_default_scope=False)

    import mmdet_losses.datasets  # noqa: F401
    import mmdet_losses.engine  # noqa: F401
    import mmdet_losses.models  # noqa: F401
    import mmdet_losses.visualization  # noqa: F401
    from mmdet_losses.models.task_modules.diou_nms import register_diou_nms
    register_diou_nms()

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
    elif current.scope_name != SCOPE:
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      f'not "{SCOPE}"; register_all_modules switches it to '
                      f'"{SCOPE}".')
        # A new instance name: DefaultScope.get_instance returns the most
        # recently created instance as the current one.
        name = f'{SCOPE}-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name=SCOPE)
