"""Checking annotations when a dataset loads, so that bad data fails at
start-up with the file and the annotation named, never mid-epoch.

Every dataset of this package takes ``bad_annotations``:

* ``'error'`` (default): the first problem raises a ``ValueError`` naming
  the file and the annotation (id, object index or line);
* ``'skip'``: bad annotations are dropped and one warning at the end of
  loading counts them by kind and shows the first few.
"""
import math
import warnings
from collections import Counter
from typing import List, Optional, Sequence

POLICIES = ('error', 'skip')


class AnnotationChecker:
    """Collects the problems found while loading one annotation source."""

    def __init__(self,
                 source: str,
                 policy: str = 'error',
                 max_examples: int = 3):
        if policy not in POLICIES:
            raise ValueError(f'bad_annotations must be one of {POLICIES}, '
                             f'got {policy!r}')
        self.source = source
        self.policy = policy
        self.max_examples = max_examples
        self.counts: Counter = Counter()
        self.examples: List[str] = []

    def problem(self, where: str, kind: str, detail: str = '') -> None:
        """Report one bad annotation: raise, or count it for the warning."""
        text = f'{where}: {kind}' + (f' ({detail})' if detail else '')
        if self.policy == 'error':
            raise ValueError(
                f'{self.source}: {text}. Fix the annotation, or set '
                "bad_annotations='skip' in the dataset config to drop bad "
                'annotations with a warning.')
        self.counts[kind] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(text)

    def finish(self) -> None:
        """Warn once with the counts of what was skipped."""
        if not self.counts:
            return
        total = sum(self.counts.values())
        kinds = ', '.join(f'{n} {k}' for k, n in self.counts.most_common())
        warnings.warn(
            f'{self.source}: skipped {total} bad annotation(s): {kinds}. '
            f'First: {"; ".join(self.examples)}',
            stacklevel=2)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def as_finite_numbers(values, count: int) -> Optional[List[float]]:
    """``values`` as ``count`` finite floats, or None."""
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        return None
    return numbers


def box_problem(x1: float, y1: float, x2: float, y2: float,
                width: Optional[float],
                height: Optional[float]) -> Optional[Sequence[str]]:
    """(kind, detail) of what is wrong with an xyxy box, or None."""
    if x2 <= x1 or y2 <= y1:
        return ('zero or negative size',
                f'box [{x1:g}, {y1:g}, {x2:g}, {y2:g}]')
    if width is not None and height is not None and (x2 <= 0 or y2 <= 0 or x1
                                                     >= width or y1 >= height):
        return ('box outside the image',
                f'box [{x1:g}, {y1:g}, {x2:g}, {y2:g}] in a '
                f'{width:g} x {height:g} image')
    return None
