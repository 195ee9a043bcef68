from mmengine.model import is_model_wrapper

from ...registry import HOOKS
from ...utils.compat import install as install_compat
from ..model_checks import check_detector
from .nonfinite_loss_hook import NonFiniteLossHook


@HOOKS.register_module()
class LossSafetyHook(NonFiniteLossHook):
    """This package's safety checks for any mmengine runner, in one line::

        custom_hooks = [dict(type='mmdet_losses.LossSafetyHook')]

    With it, mmdet's own ``tools/train.py`` (mmengine's ``Runner``) gets
    what ``mmdet_losses.Runner`` and this package's configs give:

    * before the run, the model is checked against the config
      (:mod:`mmdet_losses.engine.model_checks`): an IoU-family loss on a
      head that regresses deltas and a ``num_classes`` that differs from the
      dataset's stop the run with a ``ValueError``, a DFL range too small
      for the images warns;
    * training stops at the first non-finite loss, as
      :class:`NonFiniteLossHook`;
    * the runner builds its hooks before it loads a checkpoint, so building
      this one installs this package's fixes into mmengine
      (:mod:`mmdet_losses.utils.compat`): ``--resume`` of mmengine's own
      checkpoints works on torch >= 2.6 and checkpoints are written
      atomically.

    Under ``mmdet_losses.Runner``, which checks the model when it builds it,
    the hook does not check it again; beside a ``NonFiniteLossHook`` (our
    configs' ``default_hooks.nonfinite``) it leaves the losses to that hook.
    """

    def __init__(self) -> None:
        install_compat()
        self._watch_losses = True

    def before_run(self, runner) -> None:
        from ...models.task_modules.diou_nms import register_diou_nms_if_used
        register_diou_nms_if_used(runner.cfg)
        self._watch_losses = not any(
            type(hook) is NonFiniteLossHook for hook in runner.hooks)
        from ..runner import Runner
        if isinstance(runner, Runner):
            return
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        check_detector(model, runner.cfg)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._watch_losses:
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
