"""Typed verdict objects of a report; ``verdicts.json`` is ``dataclasses.asdict`` of a :class:`Report`.

Units: accuracies and their differences in percent / percentage points; strengths in the plugin's
own unit (``strength_name``, ``strength_unit``). An "effect" is the fitted change over the swept
range (identity to strongest), in points, averaged over seeds (see theory.report.statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # both modules build on this one
    from theory.report.calibration import Calibration
    from theory.report.robustness import RobustnessByBlock


@dataclass(frozen=True)
class CheckedBound:
    """A regularizer's registered bound on tau (its ``rt_core.Bound``) as the report shows it: LaTeX and
    unicode forms, the strength's symbol, and its monotonicity as checked (``decided_by``)."""

    latex: str
    unicode: str
    symbol: str
    monotone: bool
    decided_by: str
    constrains: str


@dataclass(frozen=True)
class StrengthClass:
    """The T4 classifier's verdict for one swept strength."""

    strength: float
    verdict: str
    reason: str
    numbers: dict


@dataclass(frozen=True)
class Prediction:
    """What the theory expects of relative DT as the strength grows: "rises", "none" (no
    systematic effect) or "unknown"; ``text`` says why (never empty)."""

    kind: str  # "regularizer", "augmentation" or "unknown"
    expected: str
    text: str
    bound: CheckedBound | None = None
    strengths: tuple[StrengthClass, ...] = ()


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its seed-bootstrap interval (None with fewer than 2 seeds)."""

    mean: float | None
    ci: tuple[float, float] | None
    seeds: int


@dataclass(frozen=True)
class Trend:
    """The blocked trend test of rel_dt over the ordered strengths, Holm-adjusted over the report."""

    test: str
    statistic: float
    p_value: float
    p_holm: float
    direction: str
    seeds: int
    levels: int


@dataclass(frozen=True)
class Equivalence:
    """TOST of the rel_dt effect against (-margin, +margin), Holm-adjusted over the report."""

    margin: float
    p_value: float
    p_holm: float
    ci90: tuple[float, float]
    equivalent: bool


@dataclass(frozen=True)
class Decomposition:
    """Effects over the swept range: rel_dt = Delta acc_tgt - Delta acc_src, and the probe-symmetric
    rel_dt_probe = Delta acc_tgt - Delta probe_acc_src; ``source`` names what carried the change."""

    d_acc_src: Estimate
    d_acc_tgt: Estimate
    d_probe_acc_src: Estimate
    rel_dt_probe: Estimate
    source: str


@dataclass(frozen=True)
class StrengthRow:
    """Per strength (the identity is the vanilla): trial counts and per-metric estimates."""

    strength: float
    trials: int
    usable: int
    flagged: int
    metrics: dict[str, Estimate]


@dataclass(frozen=True)
class TrialNote:
    """A trial excluded (source model at chance) or flagged (source far below its vanilla)."""

    strength: float
    seed: int
    acc_src: float | None
    why: str


@dataclass(frozen=True)
class PluginVerdict:
    plugin: str
    strength_name: str
    strength_unit: str
    identity: float
    prediction: Prediction
    trials: int
    excluded: tuple[TrialNote, ...]
    flagged: tuple[TrialNote, ...]
    effect: Estimate
    trend: Trend | None
    equivalence: Equivalence | None
    decomposition: Decomposition
    strengths: tuple[StrengthRow, ...]
    verdict: str  # "agrees", "disagrees", "inconclusive"
    reason: str
    stability: float | None
    stable: bool | None

    @property
    def label(self) -> str:
        """The verdict as tables and figures print it: with " (unstable)" when stability < 0.8."""
        return self.verdict + (" (unstable)" if self.stable is False else "")


@dataclass(frozen=True)
class Correlation:
    """Spearman rho of rob_src with rel_dt over usable trials, its seed-bootstrap interval, and the
    least-squares line rel_dt = intercept + slope * rob_src; ``flagged``: how many of the n trials are
    flagged, ``unflagged``: the same correlation without them (None on the correlation without them)."""

    n: int
    rho: float | None
    p_value: float | None
    rho_ci: tuple[float, float] | None
    slope: float | None
    intercept: float | None
    flagged: int = 0
    unflagged: Correlation | None = None


@dataclass(frozen=True)
class TrialCounts:
    """The trials of a report, each counted once: ``excluded`` = ``unusable`` (did not finish, or its
    source model stayed within 10 points of chance) + ``orphaned`` (learned, but its seed's vanilla
    did not, or there is none); ``flagged``: usable trials far below their vanilla."""

    trials: int
    excluded: int
    unusable: int
    orphaned: int
    flagged: int


@dataclass(frozen=True)
class Settings:
    alpha: float
    equivalence_margin: float
    resamples: int
    min_acc_src: float
    flag_drop: float
    seeds: tuple[int, ...]
    distinct_resamples: int


@dataclass(frozen=True)
class Agreement:
    """How well a predictor ranks a measured quantity across the trials of one seed: ``tau`` = the
    mean over seeds of Kendall's tau-b (oriented: +1 when a higher predicted transfer always goes with
    a higher measured value), its seed-bootstrap 95% interval (None with fewer than 2 seeds), and the
    seeds with a defined tau (at least 3 trials, neither side constant)."""

    tau: float | None
    ci: tuple[float, float] | None
    seeds: int


@dataclass(frozen=True)
class TrendSign:
    """One plugin, one predictor: the mean over seeds of Kendall's tau of the (oriented) predictor and
    of the measured rel_dt against the strength's rank, and whether their signs agree (None when
    either is undefined or 0)."""

    predictor: float | None
    measured: float | None
    same_sign: bool | None


@dataclass(frozen=True)
class PredictorScore:
    """One predictor of the scoreboard: ``kind`` "score" (a ``score_<name>`` metric), "baseline"
    (rob_src, acc_src) or "theory" (the predicted direction: the strength's rank where the theory
    predicts that rel_dt rises, 0 where it predicts no effect); ``overall[measured]`` over all usable
    trials of a seed, ``per_plugin[plugin][measured]`` over one plugin's trials of a seed (its identity
    included), ``trends[plugin]`` the sign check over strength."""

    name: str
    kind: str
    higher_is_better: bool
    overall: dict[str, Agreement]
    per_plugin: dict[str, dict[str, Agreement]]
    trends: dict[str, TrendSign]


@dataclass(frozen=True)
class Scoreboard:
    """Which predictor of transfer to trust on these trials (theory.report.scoreboard): every
    predictor's agreement with measured acc_tgt and rel_dt; ``best[measured]``: the predictor with the
    highest overall tau (None when none is defined)."""

    trials: int
    seeds: int
    measured: tuple[str, ...]
    predictors: list[PredictorScore]
    best: dict[str, str | None]


@dataclass
class Report:
    title: str
    settings: Settings
    plugins: list[PluginVerdict]
    robustness: Correlation
    plan: list[PlanRow] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    counts: TrialCounts | None = None
    scoreboard: Scoreboard | None = None
    robustness_blocked: RobustnessByBlock | None = None
    calibration: Calibration | None = None


@dataclass(frozen=True)
class PlanRow:
    """Seeds a study needs per plugin: from the measured seed-to-seed spread of the rel_dt effect
    (t-test model), and by resampling the measured seeds through the report's own rule
    (``seeds_to_decide``, ``decided_as``: n and the verdict; None and "undecided" beyond
    theory.report.plan.SEED_GRID; None and None when not sized)."""

    plugin: str
    seeds_measured: int
    effect_sd: float | None
    effect: float
    power: float
    seeds_to_detect: int | None
    seeds_to_detect_holm: int | None
    seeds_for_equivalence: int | None
    seeds_to_decide: int | None = None
    decided_as: str | None = None


@dataclass(frozen=True)
class Replication:
    """Would independent studies reach the same verdicts? ``draws`` times, ``runs`` studies of
    ``seeds`` seeds each are drawn with replacement from the ``seeds_measured`` measured seeds and
    each is decided by the report's rule (theory.report.plan.replication).

    ``same[plugin]``: share of draws in which all runs reach one verdict (an "inconclusive" in
    every run counts: it is the same verdict). ``coinciding[k]``: share of draws in which exactly
    k plugins have the same verdict in all runs (k = 0 .. number of plugins)."""

    runs: int
    seeds: int
    seeds_measured: int
    draws: int
    same: dict[str, float]
    coinciding: list[float]

    def at_least(self, k: int) -> float:
        """Share of draws in which at least ``k`` plugins have the same verdict in all runs."""
        return float(sum(self.coinciding[max(k, 0):]))

    @property
    def mean_coinciding(self) -> float:
        """Expected number of plugins with the same verdict in all runs."""
        return float(sum(k * share for k, share in enumerate(self.coinciding)))
