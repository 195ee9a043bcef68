"""Registries of mmdet_losses: children of mmdet's, scope ``mmdet_losses``.

A config that sets ``default_scope='mmdet_losses'`` looks a ``type`` up here
first and falls through to mmdet (then mmengine) for everything this package
does not define, so ``loss_bbox=dict(type='CIoULoss')`` takes our loss while
``type='RetinaNet'`` still builds mmdet's. Under mmdet's own scope the same
modules are reachable by their scoped name, e.g. ``'mmdet_losses.CIoULoss'``.

Every registry names the modules that fill it (``locations``), so a lookup
imports them on demand; those modules import their mmdet counterparts too,
because a child registry only searches its parents' *already registered*
modules.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmdet_losses'


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return Registry(
        name, parent=parent, scope=SCOPE, locations=list(locations))


# runners, loops, hooks
RUNNERS = _child('runner', MMDET_RUNNERS, 'mmdet_losses.engine.runner')
RUNNER_CONSTRUCTORS = _child('runner constructor', MMDET_RUNNER_CONSTRUCTORS,
                             'mmdet.engine.runner')
LOOPS = _child('loop', MMDET_LOOPS, 'mmdet.engine.runner')
HOOKS = _child('hook', MMDET_HOOKS, 'mmdet_losses.engine.hooks')

# data
DATASETS = _child('dataset', MMDET_DATASETS, 'mmdet_losses.datasets')
DATA_SAMPLERS = _child('data sampler', MMDET_DATA_SAMPLERS,
                       'mmdet.datasets.samplers')
TRANSFORMS = _child('transform', MMDET_TRANSFORMS, 'mmdet_losses.datasets')

# models
MODELS = _child('model', MMDET_MODELS, 'mmdet_losses.models')
MODEL_WRAPPERS = _child('model_wrapper', MMDET_MODEL_WRAPPERS, 'mmdet.models')
WEIGHT_INITIALIZERS = _child('weight initializer', MMDET_WEIGHT_INITIALIZERS,
                             'mmdet.models')
TASK_UTILS = _child('task util', MMDET_TASK_UTILS,
                    'mmdet_losses.models.task_modules')

# optimisation
OPTIMIZERS = _child('optimizer', MMDET_OPTIMIZERS, 'mmdet.engine.optimizers')
OPTIM_WRAPPERS = _child('optim_wrapper', MMDET_OPTIM_WRAPPERS,
                        'mmdet_losses.engine.optimizers')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer constructor',
                                    MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmdet.engine.optimizers')
PARAM_SCHEDULERS = _child('parameter scheduler', MMDET_PARAM_SCHEDULERS,
                          'mmdet.engine.schedulers')

# evaluation and visualisation
METRICS = _child('metric', MMDET_METRICS, 'mmdet.evaluation')
EVALUATOR = _child('evaluator', MMDET_EVALUATOR, 'mmdet.evaluation')
VISUALIZERS = _child('visualizer', MMDET_VISUALIZERS, 'mmdet.visualization')
VISBACKENDS = _child('vis_backend', MMDET_VISBACKENDS, 'mmdet.visualization')
LOG_PROCESSORS = _child('log_processor', MMDET_LOG_PROCESSORS, 'mmdet.engine')


def registered(name: str):
    """The class this package registered as ``name`` in any of its
    registries, or None.

    mmengine resolves a scoped name such as ``'mmdet_losses.PIoULoss'``
    through the registry tree only from mmdet's scope (these registries are
    children of mmdet's); from another tree, as in an mmrotate config
    (``default_scope='mmrotate'``), it falls back to importing the dotted
    path. ``mmdet_losses.__getattr__`` answers that import with this
    function, so the same ``type='mmdet_losses.PIoULoss'`` works in both.
    """
    for registry in (MODELS, TASK_UTILS, DATASETS, TRANSFORMS, HOOKS, RUNNERS,
                     OPTIM_WRAPPERS, METRICS, VISUALIZERS):
        registry.import_from_location()
        if name in registry.module_dict:
            return registry.module_dict[name]
    return None
