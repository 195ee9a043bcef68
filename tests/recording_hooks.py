"""A hook for tests: each rank writes its loss terms of the first
iterations to ``work_dir/losses_rank{rank}.json``."""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmdet_losses.registry import HOOKS


@HOOKS.register_module()
class RecordLossesHook(Hook):

    def __init__(self, iterations: int = 1):
        self.iterations = iterations
        self.records = []

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if len(self.records) >= self.iterations:
            return
        self.records.append({
            k: (v.item() if torch.is_tensor(v) else float(v))
            for k, v in outputs.items() if k.startswith('loss')
        })
        path = osp.join(runner.work_dir, f'losses_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.records, f)
