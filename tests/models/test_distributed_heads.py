"""Every dense head of this package under a 2-process gloo group in which
one rank's images hold no object (so no positive).

Each rank must issue the same collectives (counted), finish, and give
finite losses with a gradient for every parameter (DDP).

Where a head divides by all-reduced factors (GFL's ``reduce_mean`` of the
positive count and of the summed box weights) the mean of the per-rank
losses is the single-process loss of the whole batch: with ``A =
reduce_mean(a_r) = sum_r a_r / W``, rank r's loss is ``S_r / A = W S_r /
sum_r a_r``, so ``mean_r S_r / A = sum_r S_r / sum_r a_r``; and as DDP
averages the ranks' gradients, training sees the single-process gradient.
The rank without positives logs W times its own (negatives') loss share.
The heads' clamps (``max(A, 1)``) keep this exact only while ``sum_r a_r >=
W``, which the scene ensures (scores near 0.5; mmdet's per-image positive
count is at least 1). YOLOv1 averages over images, so equal per-rank
batches give the same identity. RetinaHead's factor is not all-reduced
(mmdet's own choice): there each rank must equal the single-process loss
of its own images.
"""
import os
import socket
import traceback
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

WORLD = 2
IMAGES_PER_RANK = 2
IMG = 64
GLOO_TIMEOUT_S = 20
JOIN_TIMEOUT_S = 120

TEST_CFG = ConfigDict(
    nms_pre=100,
    min_bbox_size=0,
    score_thr=0.0,
    nms=dict(type='nms', iou_threshold=0.6),
    max_per_img=30)
QFL = dict(type='QualityFocalLoss', beta=2.0, loss_weight=1.0)
FOCAL = dict(type='FocalLoss', gamma=2.0, alpha=0.25, loss_weight=1.0)
CENTERNESS = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)
ATSS_CODER = dict(
    type='DeltaXYWHBBoxCoder',
    target_means=[.0, .0, .0, .0],
    target_stds=[0.1, 0.1, 0.2, 0.2])
GN = dict(type='GN', num_groups=4, requires_grad=True)
GFL = dict(
    type='GFLAblationHead',
    num_classes=3,
    in_channels=8,
    feat_channels=8,
    stacked_convs=1,
    norm_cfg=GN,
    anchor_generator=dict(
        type='AnchorGenerator',
        ratios=[1.0],
        octave_base_scale=8,
        scales_per_octave=1,
        strides=[8, 16]),
    loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
    train_cfg=ConfigDict(
        assigner=dict(type='ATSSAssigner', topk=9),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=TEST_CFG)

# name: (config, 'global' (mean over ranks == whole batch) or 'local')
HEADS = {
    'FCOSGFLHead': (dict(
        type='FCOSGFLHead',
        num_classes=3,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        strides=[8, 16],
        regress_ranges=((-1, 32), (32, 1e8)),
        center_sampling=True,
        norm_cfg=GN,
        test_cfg=TEST_CFG), 'global'),
    'GFLAblationHead-qfl-general-dfl': (dict(GFL, loss_cls=QFL), 'global'),
    'GFLAblationHead-qfl-dirac': (dict(
        GFL,
        loss_cls=QFL,
        bbox_repr='dirac',
        bbox_coder=ATSS_CODER,
        loss_dfl=None), 'global'),
    'GFLAblationHead-focal-dirac-centerness (ATSS)': (dict(
        GFL,
        loss_cls=FOCAL,
        bbox_repr='dirac',
        bbox_coder=ATSS_CODER,
        loss_dfl=None,
        loss_centerness=CENTERNESS), 'global'),
    'GFLAblationHead-focal-general-centerness':
    (dict(GFL, loss_cls=FOCAL, loss_centerness=CENTERNESS,
          bin_interval=2.0), 'global'),
    'RetinaQFLHead': (dict(
        type='RetinaQFLHead',
        num_classes=3,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=2,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        reg_decoded_bbox=True,
        loss_cls=QFL,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        train_cfg=ConfigDict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.4,
                min_pos_iou=0,
                ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        test_cfg=TEST_CFG), 'local'),
    'YOLOv1Head': (dict(
        type='YOLOv1Head',
        num_classes=3,
        in_channels=8,
        grid_size=4,
        feat_channels=8,
        num_convs=1,
        norm_cfg=None,
        test_cfg=TEST_CFG), 'global'),
}


def build_head(name):
    from mmdet_losses.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        head = MODELS.build(HEADS[name][0])
    head.init_weights()
    # scores near 0.5 rather than the prior 0.01: GFL's summed box weights
    # (the positives' best scores) then reach the clamp's bound W
    for key, param in head.named_parameters():
        if key.endswith(('gfl_cls.bias', 'conv_cls.bias')):
            param.data.zero_()
    return head


def scene(images):
    """Features, ground truth and metas of the global batch's ``images``:
    rank 0's images (0, 1) hold objects, rank 1's (2, 3) none."""
    g = torch.Generator().manual_seed(0)
    feats = [
        torch.randn(WORLD * IMAGES_PER_RANK, 8, s, s, generator=g)
        for s in (8, 4)
    ]
    boxes = [
        torch.tensor([[5., 6., 40., 50.], [20., 10., 60., 30.]]),
        torch.tensor([[1., 1., 30., 62.], [40., 36., 56., 52.]]),
    ]
    labels = [torch.tensor([0, 2]), torch.tensor([1, 1])]
    gts = []
    for i in images:
        if i < len(boxes):
            gts.append(InstanceData(bboxes=boxes[i], labels=labels[i]))
        else:
            gts.append(
                InstanceData(
                    bboxes=torch.zeros(0, 4),
                    labels=torch.zeros(0, dtype=torch.long)))
    metas = [
        dict(
            img_shape=(IMG, IMG),
            pad_shape=(IMG, IMG),
            batch_input_shape=(IMG, IMG),
            scale_factor=(1., 1.))
    ] * len(images)
    index = torch.tensor(images)
    return [f[index] for f in feats], gts, metas


def head_losses(name, images):
    """The head's losses (each summed over levels) on ``images``, and
    whether every output received a gradient."""
    head = build_head(name)
    feats, gts, metas = scene(images)
    with DefaultScope.overwrite_default_scope('mmdet_losses'):
        losses = head.loss_by_feat(*head(feats), gts, metas)
    losses = {
        k: sum(v) if isinstance(v, list) else v
        for k, v in losses.items()
    }
    sum(losses.values()).backward()
    all_grads = all(p.grad is not None for p in head.parameters())
    return {k: v.item() for k, v in losses.items()}, all_grads


def rank_images(rank):
    return list(range(rank * IMAGES_PER_RANK, (rank + 1) * IMAGES_PER_RANK))


def worker(rank, port, out_dir):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    result = {}
    try:
        import mmdet_losses
        mmdet_losses.register_all_modules(init_default_scope=False)
        dist.init_process_group(
            'gloo',
            rank=rank,
            world_size=WORLD,
            timeout=timedelta(seconds=GLOO_TIMEOUT_S))
        calls = []
        all_reduce = dist.all_reduce

        def counted(tensor, *args, **kwargs):
            calls.append(tuple(tensor.shape))
            return all_reduce(tensor, *args, **kwargs)

        dist.all_reduce = counted
        for name in HEADS:
            calls.clear()
            losses, all_grads = head_losses(name, rank_images(rank))
            result[name] = dict(
                losses=losses, collectives=list(calls), all_grads=all_grads)
            # a head that left the ranks out of step fails here, not later
            dist.barrier()
        dist.all_reduce = all_reduce
    except BaseException:
        result['error'] = traceback.format_exc()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        torch.save(result, os.path.join(out_dir, f'rank{rank}.pt'))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def rank_results(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('ddp'))
    context = mp.get_context('spawn')
    port = free_port()
    procs = [
        context.Process(target=worker, args=(rank, port, out_dir))
        for rank in range(WORLD)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT_S)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    assert not hung, f'ranks (pids {hung}) did not finish: a hang'
    results = []
    for rank in range(WORLD):
        result = torch.load(
            os.path.join(out_dir, f'rank{rank}.pt'), weights_only=False)
        assert 'error' not in result, f'rank {rank}:\n{result["error"]}'
        results.append(result)
    return results


@pytest.fixture(scope='module', autouse=True)
def registered():
    import mmdet_losses
    mmdet_losses.register_all_modules(init_default_scope=False)


def test_the_scene_has_a_rank_without_positives():
    _, gts, _ = scene(rank_images(1))
    assert all(len(gt) == 0 for gt in gts)
    _, gts, _ = scene(rank_images(0))
    assert all(len(gt) > 0 for gt in gts)


@pytest.mark.parametrize('name', list(HEADS))
def test_ranks_issue_the_same_collectives_and_finish(name, rank_results):
    calls = [r[name]['collectives'] for r in rank_results]
    assert calls[0] == calls[1]
    for result in rank_results:
        values = torch.tensor(list(result[name]['losses'].values()))
        assert torch.isfinite(values).all(), result[name]['losses']
        assert result[name]['all_grads']


@pytest.mark.parametrize('name', list(HEADS))
def test_ranks_agree_with_a_single_process(name, rank_results):
    _, mode = HEADS[name]
    per_rank = [r[name]['losses'] for r in rank_results]
    if mode == 'global':
        whole, _ = head_losses(name, list(range(WORLD * IMAGES_PER_RANK)))
        assert set(whole) == set(per_rank[0])
        for key, value in whole.items():
            mean = sum(r[key] for r in per_rank) / WORLD
            assert mean == pytest.approx(value, rel=1e-5, abs=1e-7), key
    else:
        for rank, losses in enumerate(per_rank):
            alone, _ = head_losses(name, rank_images(rank))
            assert losses == pytest.approx(alone, rel=1e-6, abs=1e-7)
    if name.startswith(('FCOSGFL', 'GFLAblation')):
        # the rank without positives took part in the all-reduces
        assert len(rank_results[1][name]['collectives']) >= 2
