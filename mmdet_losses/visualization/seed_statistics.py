"""Statistics of runs repeated over seeds: mean and sample standard
deviation, and the paired test of one configuration against another.

Used by tools/reproduce_gfl_ablation.py to say whether a paper's claim
("row A beats row B") holds in runs of both rows with the same seeds.
"""
import math
from typing import Dict, NamedTuple, Optional, Sequence, Tuple


class Stat(NamedTuple):
    mean: float
    std: float  # sample standard deviation (n - 1); 0 for one run
    n: int

    @property
    def sem(self) -> float:
        """Standard error of the mean."""
        return self.std / math.sqrt(self.n) if self.n else math.nan


def stat(values: Sequence[float]) -> Optional[Stat]:
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.0
    return Stat(mean, math.sqrt(var), n)


def claim_verdict(better: Dict[int, float],
                  worse: Dict[int, float]) -> Tuple[str, str]:
    """The mean of the per-seed AP differences ``better - worse`` over the
    seeds both rows have, with its standard error, and whether it shows the
    claimed order: a two-sided paired t-test at the 5 % level.

    The differences are paired by seed: runs with the same seed see the
    same data order and the same backbone initialisation, so the pairs
    share much of their seed-to-seed variation.
    """
    seeds = sorted(set(better) & set(worse))
    if not seeds:
        return '—', 'not run'
    paired = stat([better[s] - worse[s] for s in seeds])
    if paired.n < 2:
        sign = 'same' if paired.mean > 0 else 'opposite'
        return f'{paired.mean:+.1f}', f'{sign} sign, one seed: no test'
    observed = f'{paired.mean:+.1f} ± {paired.sem:.1f}'
    p = paired_t_test(paired)
    p_text = format_p_value(p)
    if p >= 0.05:
        return observed, f'not resolved ({p_text})'
    if paired.mean > 0:
        return observed, f'yes ({p_text})'
    return observed, f'no: the opposite order ({p_text})'


def format_p_value(p: float) -> str:
    """Two significant digits, so that a small p never prints as 0."""
    if p < 0.001:
        return 'p < 0.001'
    return f'p = {p:.2f}' if p >= 0.01 else f'p = {p:.3f}'


def paired_t_test(differences: Stat) -> float:
    """Two-sided p-value of a mean difference of 0."""
    from scipy import stats
    if differences.std == 0:
        return 0.0 if differences.mean != 0 else 1.0
    t = differences.mean / differences.sem
    return float(2 * stats.t.sf(abs(t), differences.n - 1))
