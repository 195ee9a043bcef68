"""The tools destroy the process group of a distributed run before they
exit, so that no communication thread outlives the interpreter."""
import torch.distributed as dist

from mmdet_losses.utils.runner_setup import close_process_group


def test_the_process_group_is_destroyed(tmp_path):
    dist.init_process_group(
        'gloo',
        init_method=f'file://{tmp_path}/rendezvous',
        rank=0,
        world_size=1)
    assert dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()


def test_without_a_process_group_it_does_nothing():
    assert not dist.is_initialized()
    close_process_group()
    assert not dist.is_initialized()
