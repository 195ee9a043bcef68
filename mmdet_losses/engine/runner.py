import copy
import datetime

import mmdet.engine.runner  # noqa: F401  (registers mmdet's loops)
import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import Runner as MMEngineRunner

from ..models.task_modules.diou_nms import register_diou_nms_if_used
from ..registry import RUNNERS
from ..utils.compat import install as install_compat
from ..utils.config import rescope_to_default
from .model_checks import check_detector

MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                          'param_scheduler', 'checkpoint')


@RUNNERS.register_module()
class Runner(MMEngineRunner):
    """mmengine's Runner, building the parts a config inherits from
    ``'mmdet::...'`` in the config's default scope (see
    :mod:`mmdet_losses.utils.config`).

    Our base runtime config sets ``runner_type = 'mmdet_losses.Runner'``,
    so mmdet's own ``tools/train.py`` builds this runner too. The built
    model is checked against the config (:mod:`.model_checks`), and
    constructing the runner installs this package's fixes into mmengine
    (:mod:`mmdet_losses.utils.compat`) before it can load a checkpoint.
    """

    def __init__(self, *args, **kwargs) -> None:
        install_compat()
        super().__init__(*args, **kwargs)

    def register_default_hooks(self, hooks=None) -> None:
        # mmengine accepts `name=None` only for its own default hooks; let
        # it switch off ours (e.g. `default_hooks.nonfinite=None`) too
        if hooks is not None:
            hooks = {
                k: v
                for k, v in hooks.items()
                if v is not None or k in MMENGINE_DEFAULT_HOOKS
            }
        super().register_default_hooks(hooks)

    def setup_env(self, env_cfg: dict) -> None:
        # mmengine's launchers call torch.cuda.set_device, which a CPU build
        # of torch does not have: join the process group here instead
        if self.distributed and not is_distributed() and \
                not torch.cuda.is_available() and self.launcher == 'pytorch':
            dist_cfg = dict(env_cfg.get('dist_cfg', {}))
            backend = dist_cfg.pop('backend', 'gloo')
            if backend == 'nccl':
                backend = 'gloo'
            timeout = dist_cfg.pop('timeout', None)
            if timeout is not None:
                dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
            torch_dist.init_process_group(backend=backend, **dist_cfg)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg, model):
        # DistributedDataParallel takes no device_ids for a CPU module
        if self.distributed and not torch.cuda.is_available() and \
                model_wrapper_cfg is None:
            return MMDistributedDataParallel(
                module=model,
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
        return super().wrap_model(model_wrapper_cfg, model)

    def build_model(self, model):
        # a config's nms=dict(type='diou_nms') is looked up in mmcv.ops.nms
        register_diou_nms_if_used(self.cfg)
        model = super().build_model(model)
        check_detector(model, self.cfg)
        return model

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        return super().from_cfg(rescope_to_default(copy.deepcopy(cfg)))
