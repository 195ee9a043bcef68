"""Shared test utilities: shrink a config to a few images and iterations."""
import os
import os.path as osp

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs')


def config_path(*parts: str) -> str:
    return osp.join(CONFIG_DIR, *parts)


def iter_datasets(dataloader_cfg):
    """The dataset configs of a dataloader, wrappers unwrapped."""
    dataset = dataloader_cfg['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    yield dataset


# generated datasets other than the synthetic shapes: each lives in its own
# directory beside the ``data_root`` given to shrink_config
GENERATED_BESIDE = {'mmdet_losses.SyntheticDOTADataset': 'synthetic_rotated'}


def shrink_config(cfg: Config,
                  work_dir: str,
                  data_root: str,
                  num_train: int = 4,
                  num_val: int = 2,
                  max_epochs: int = 1,
                  batch_size: int = 2) -> Config:
    """Point a quickstart config at a tiny generated dataset and train it
    for ``max_epochs`` epochs of ``num_train / batch_size`` iterations."""
    data_root = data_root.rstrip('/') + '/'
    old_root = None
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.batch_size = batch_size
        loader.num_workers = 0
        loader.persistent_workers = False
        for dataset in iter_datasets(loader):
            old_root = dataset.get('data_root', old_root)
            dataset.data_root = data_root
            if dataset.get('type') in GENERATED_BESIDE:
                dataset.data_root = osp.join(
                    osp.dirname(data_root.rstrip('/')),
                    GENERATED_BESIDE[dataset.type]) + '/'
            if 'generate' in dataset:
                dataset.generate = dict(
                    dataset.generate, num_train=num_train, num_val=num_val)
    for name in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg.get(name)
        if evaluator and 'ann_file' in evaluator and old_root:
            evaluator.ann_file = evaluator.ann_file.replace(
                old_root, data_root)
    # an untrained model scores below any threshold: keep every box so the
    # metric has predictions to evaluate
    test_cfg = cfg.model.get('test_cfg') or {}
    if 'score_thr' in test_cfg:
        test_cfg.score_thr = 0.0
    # ... but few enough that a rotated NMS (quadratic in boxes) stays cheap
    if test_cfg.get('nms', {}).get('type') == 'nms_rotated':
        test_cfg.nms_pre = min(test_cfg.get('nms_pre', 100), 100)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.train_cfg.val_interval = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    os.makedirs(work_dir, exist_ok=True)
    return cfg


def load_tool(*parts: str):
    """Import a script under tools/ as a module: ``load_tool('analysis',
    'plot_losses.py')``."""
    import importlib.util
    path = osp.join(ROOT, 'tools', *parts)
    name = osp.splitext(parts[-1])[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_image(path: str) -> None:
    """A non-empty PNG that matplotlib reads back, or a parseable SVG."""
    import xml.etree.ElementTree as ET

    import matplotlib.image
    assert osp.getsize(path) > 1000, path
    if path.endswith('.svg'):
        assert ET.parse(path).getroot().tag.endswith('svg'), path
        return
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n', path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100, path
    assert pixels.std() > 0, f'{path} is a blank canvas'
