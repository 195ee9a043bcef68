from .fake_rotated_anchor_generator import FakeRotatedAnchorGenerator

__all__ = ['FakeRotatedAnchorGenerator']
