from .csl_coder import CircularSmoothLabelCoder

__all__ = ['CircularSmoothLabelCoder']
