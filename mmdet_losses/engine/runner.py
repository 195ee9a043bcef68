import copy

import mmdet.engine.runner  # noqa: F401  (registers mmdet's loops)
from mmengine.runner import Runner as MMEngineRunner

from ..registry import RUNNERS
from ..utils.config import rescope_to_default


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """mmengine's Runner, building the parts a config inherits from
    ``'mmdet::...'`` in the config's default scope (see
    :mod:`mmdet_losses.utils.config`).

    Our base runtime config sets ``runner_type = 'mmdet_losses.Runner'``,
    so mmdet's own ``tools/train.py`` builds this runner too.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        return super().from_cfg(rescope_to_default(copy.deepcopy(cfg)))
