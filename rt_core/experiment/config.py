"""Experiment configuration: a parsed TOML document -> validated frozen dataclasses.

Unknown keys and wrong types are RtErrors naming the key (``train.epochs: expected int, got str``).
Strengths may be written as numbers or exact fractions in strings ("8/255"), parsed with
fractions.Fraction, never evaluated. Every value's range is declared once, beside its field, as a
:class:`Check` in the field's metadata (``checked(default, Check(low=0, low_open=True))``); the
validator walks every field of every section, so a new key cannot skip it: a numeric or list field
without a Check is a programming error the validator raises on. The same Checks type the command
line's numeric flags (``Check.arg``) and the columns of imported CSVs. Every float is finite.
This module only parses: reading the file and checking plugin, dataset and model names against the
registries is ``rt_core.experiment.loading``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, get_origin, get_type_hints

from rt_core.errors import RtError

SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Check:
    """The declared constraint of one value: in a config field's metadata (:func:`checked`), in an
    option's ``Annotated[int, Check(...)]`` hint, as a command-line flag's type (:meth:`arg`) or for
    an imported CSV column. ``low`` / ``high`` bound a number (exclusive with ``low_open`` /
    ``high_open``), ``integer`` asks for a whole number, ``choices`` for one of some words; ``items``
    ("int" or "number") makes it a list whose every item is checked (``nonempty``: at least one item),
    ``text`` a string (``nonempty``: not blank).
    Every number must be finite. ``says`` replaces the generic "must be ..." wording.

    >>> Check(low=0, low_open=True)(0.5, "train.lr")
    0.5
    >>> Check(low=0, low_open=True)(float("nan"), "train.lr")
    Traceback (most recent call last):
    rt_core.errors.RtError: train.lr: must be a finite number > 0, got nan
    >>> Check(items="int", low=1)([2, "a"], "train.milestones")
    Traceback (most recent call last):
    rt_core.errors.RtError: train.milestones: expected a list of integers >= 1; item 1 is 'a'
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()
    items: str = ""
    nonempty: bool = False
    text: bool = False
    says: str = ""

    def __call__(self, value: Any, where: str) -> Any:
        """``value`` checked (list items given as fraction strings read as floats); else one RtError line."""
        if self.items:
            return self._list(value, where)
        if self.choices:
            if value not in self.choices:
                raise RtError(f"{_at(where)} '{value}' is not one of {', '.join(self.choices)}")
            return value
        if self.text:
            if not isinstance(value, str) or self.nonempty and not value.strip():
                raise self._fail(value, where)
            return value
        return self._number(value, where)

    def describe(self) -> str:
        """The range in words: "> 0", "in [0, 1)", "an integer >= 1"."""
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {_text(self.low)}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {_text(self.high)}"
        if low and high:
            text = (f"in {'(' if self.low_open else '['}{_text(self.low)}, {_text(self.high)}"
                    f"{')' if self.high_open else ']'}")
        else:
            text = low or high or "a number"
        return f"an integer {text}" if self.integer and text != "a number" else text

    def _fail(self, value: Any, where: str, finite: bool = False) -> RtError:
        if self.says:
            return RtError(f"{_at(where)} {self.says}, got {value!r}")
        text = self.describe()
        if finite:
            text = "a finite number" if text == "a number" else f"a finite number {text}"
        return RtError(f"{_at(where)} must be {text}, got {value!r}")

    def _number(self, value: Any, where: str) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RtError(f"{_at(where)} expected {'an integer' if self.integer else 'a number'}, got {value!r}")
        if self.integer and not isinstance(value, int):
            raise RtError(f"{_at(where)} expected an integer, got {value!r}")
        if not math.isfinite(value):
            raise self._fail(value, where, finite=True)
        if self.low is not None and (value < self.low or self.low_open and value == self.low) or \
                self.high is not None and (value > self.high or self.high_open and value == self.high):
            raise self._fail(value, where)
        return value

    def _list(self, value: Any, where: str) -> list:
        scalar = dataclasses.replace(self, items="", nonempty=False, says="", integer=self.items == "int")
        kind = "integers" if self.items == "int" else "numbers"
        wanted = self.says or f"expected a {'non-empty ' if self.nonempty else ''}list of {kind} " \
                              f"{scalar.describe().removeprefix('an integer ')}".rstrip()
        if not isinstance(value, list) or self.nonempty and not value:
            raise RtError(f"{_at(where)} {wanted}, got {value!r}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(scalar._number(v if self.items == "int" else parse_number(v, where), where))
            except RtError as err:
                raise RtError(f"{_at(where)} {wanted}; item {i} is {v!r}") from err
        return list(value) if self.items == "int" else out

    def arg(self, flag: str, kind: type = float) -> Callable[[str], Any]:
        """An argparse ``type`` for ``flag``: the text read as ``kind`` (int, float or str), then checked;
        a bad value is one RtError line (which argparse does not turn into a usage message)."""
        def parse(text: str) -> Any:
            try:
                value = kind(text)
            except ValueError as err:
                noun = "an integer" if kind is int else "a number"
                raise RtError(f"{flag}: expected {noun}, got {text!r}") from err
            return self(value, flag)
        return parse


def _at(where: str) -> str:
    """The head of a message: ``train.lr:`` for a config key, ``--grid`` (no colon) for a flag."""
    return where if where.startswith("--") else f"{where}:"


def _text(bound: float) -> str:
    """A bound as written: 4294967295, not 4.29497e+09; 0.5 as 0.5."""
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def checked(default: Any, check: Check) -> Any:
    """A dataclass field with ``default`` (a list default is copied per instance) and its Check."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check})
    return field(default=default, metadata={"check": check})


POSITIVE = Check(low=0, low_open=True)
NON_NEGATIVE = Check(low=0)
AT_LEAST_ONE = Check(low=1, integer=True)
SEED = Check(low=0, high=SEED_MAX, integer=True)
FRACTION = Check(low=0, high=1)
OUT = Check(text=True, nonempty=True,
            says="is empty; give a folder or file name, e.g. runs/mine (an empty path would write into the current "
                 "folder)")
MOMENTUM = Check(low=0, high=1, high_open=True)
EPOCHS = Check(items="int", low=1)
SEEDS = Check(items="int", low=0, high=SEED_MAX, nonempty=True,
              says=f"expected a non-empty list of integers in [0, {SEED_MAX}], e.g. seeds = [0, 1, 2]")


@dataclass(frozen=True)
class DataConfig:
    """A domain: a registered dataset name, the root of real data, and loader options."""

    dataset: str = "printed_digits"
    root: str = ""
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cifar_cnn"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Source training: SGD(lr, momentum, weight_decay; Nesterov momentum with ``nesterov``) after a
    linear warm-up from 0 over the first ``warmup_epochs`` epochs (0: none), then ``schedule`` "step"
    (LR x gamma at each milestone epoch), "cosine" (per-step cosine decay to 0 over the remaining
    steps) or "linear" (per-step linear decay to 0 over the remaining steps); milestones and gamma
    are used by "step" only. ``treatment_warmup_epochs`` > 0 ramps the plugin's dose linearly from 0
    to 1 over that many epochs: at step t, r = min(1, (t + 1) / W), each image is augmented or
    perturbed with probability r and a penalty is scaled by r (optimizer settings such as weight
    decay are not ramped); 0, the default, treats every step fully. ``whiten_first_conv`` initialises
    the first conv's filters from the source training images before training (+/- the top principal
    directions of its input patches, each scaled to unit variance: ``rt_core.experiment.whitening``);
    false, the default, keeps the model's own initialisation."""

    epochs: int = checked(10, AT_LEAST_ONE)
    batch_size: int = checked(128, AT_LEAST_ONE)
    lr: float = checked(0.01, POSITIVE)
    momentum: float = checked(0.9, MOMENTUM)
    weight_decay: float = checked(5e-4, NON_NEGATIVE)
    milestones: list = checked([], EPOCHS)
    gamma: float = checked(0.1, POSITIVE)
    warmup_epochs: float = checked(0.0, NON_NEGATIVE)
    base_augment: str = checked("none", Check(choices=("none", "crop", "crop_flip")))
    schedule: str = checked("step", Check(choices=("step", "cosine", "linear")))
    nesterov: bool = False
    treatment_warmup_epochs: float = checked(0.0, NON_NEGATIVE)
    whiten_first_conv: bool = False


@dataclass(frozen=True)
class TransferConfig:
    """Target head: ``linear_probe`` (fit on cached features) or ``finetune`` (all parameters).
    ``probe_folds`` = k >= 2 scores the target probe by k-fold cross-validation over the target's
    train and test images together (each image predicted once, by the probe fitted on the other
    folds); 0 fits on the train split and scores the test split. ``probe_shots`` = k >= 1 scores a
    few-shot probe instead: over the target's train and test images together, ``probe_draws`` fixed
    draws of k images per class (the same draws for every trial), each probe fitted on its draw and
    scored on every other image; acc_tgt and loss_tgt are the means over the draws."""

    mode: str = checked("linear_probe", Check(choices=("linear_probe", "finetune")))
    epochs: int = checked(40, Check(low=0, integer=True))
    lr: float = checked(0.01, POSITIVE)
    momentum: float = checked(0.9, MOMENTUM)
    weight_decay: float = checked(5e-4, NON_NEGATIVE)
    batch_size: int = checked(128, AT_LEAST_ONE)
    milestones: list = checked([], EPOCHS)
    probe_l2: float = checked(1e-4, NON_NEGATIVE)
    probe_iters: int = checked(200, AT_LEAST_ONE)
    probe_tol: float = checked(1e-9, POSITIVE)
    probe_folds: int = checked(0, Check(low=0, integer=True, says="expected 0 (the train/test split) or a number "
                                                                   "of folds >= 2"))
    probe_shots: int = checked(0, Check(low=0, integer=True))
    probe_draws: int = checked(10, AT_LEAST_ONE)


@dataclass(frozen=True)
class AttackConfig:
    """Robust evaluation: PGD(norm, eps, steps, alpha = eps/4 when 0) on ``n_eval`` test images."""

    norm: str = checked("l2", Check(choices=("l2", "linf")))
    eps: float = checked(0.25, NON_NEGATIVE)
    steps: int = checked(20, Check(low=0, integer=True))
    alpha: float = checked(0.0, NON_NEGATIVE)
    restarts: int = checked(1, AT_LEAST_ONE)
    n_eval: int = checked(1000, Check(low=0, integer=True))


@dataclass(frozen=True)
class SweepConfig:
    """One plugin (augmentation or regularizer) at several strengths, with fixed options."""

    plugin: str
    strengths: list = field(metadata={"check": Check(items="number", nonempty=True, says=(
        "expected a non-empty list of numbers (or fractions like \"8/255\"); remove the [[sweep]] to "
        "sweep nothing"))})
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SourceModelsConfig:
    """Source models kept or brought: ``keep`` writes each trained model's state dict to
    ``DIR/models/<trial key>.safetensors``; ``checkpoints`` is a CSV ``plugin,strength,seed,path``
    (paths relative to the CSV) of existing models to evaluate instead of training them."""

    keep: bool = False
    checkpoints: str = ""


@dataclass(frozen=True)
class ReportConfig:
    """How ``rt report`` judges a sweep (no effect on any trial, hence not part of trial keys).

    ``equivalence_margin``: delta, in points of rel_dt over the swept range. A "no systematic effect"
    prediction agrees only when the 90% interval of the effect lies inside (-delta, +delta) (TOST).
    Default 2.0: docs/science.md#2-metrics puts seed-to-seed spread of robust accuracy at 1-3 points, so a change
    of rel_dt smaller than 2 points over a whole sweep is within what reseeding alone moves, while
    the effects the theory is about are tens of points ([SAL20]: +34 over its eps grid).
    ``alpha``: the family-wise error rate, Holm-corrected over the plugins of one report.
    ``plan_effect``: the rel_dt effect (points over the swept range) ``rt plan`` sizes a study to
    detect; 0 means "the equivalence margin" (effects beyond delta should be found, those inside
    it are negligible). ``resamples``: seed-bootstrap resamples for intervals and stability.
    ``calibration_draws``: null studies (strength labels permuted within seeds) the report passes
    through its own rule to show it is calibrated, each also with planted effects; 0 leaves the
    section out.
    """

    equivalence_margin: float = checked(2.0, POSITIVE)
    alpha: float = checked(0.05, Check(low=0, high=0.5, low_open=True, high_open=True,
                                       says="expected a number in (0, 0.5) (the usual value is 0.05)"))
    plan_effect: float = checked(0.0, NON_NEGATIVE)
    resamples: int = checked(1000, AT_LEAST_ONE)
    calibration_draws: int = checked(100, Check(low=0, integer=True))


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    seeds: list = checked([0], SEEDS)
    source: DataConfig = field(default_factory=DataConfig)
    target: DataConfig = field(default_factory=lambda: DataConfig(dataset="handwritten_digits"))
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    sweep: list = field(default_factory=list, metadata={"each": SweepConfig})
    source_models: SourceModelsConfig = field(default_factory=SourceModelsConfig)


SECTIONS = {"source": DataConfig, "target": DataConfig, "model": ModelConfig, "train": TrainConfig,
            "transfer": TransferConfig, "attack": AttackConfig, "report": ReportConfig,
            "source_models": SourceModelsConfig}


def parse_number(value: Any, where: str) -> float:
    """A number from an int, a float, or a string holding a number or an exact fraction "8/255"."""
    if isinstance(value, bool):
        raise RtError(f"{where}: expected a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError) as err:
            raise RtError(f"{where}: '{value}' is not a number or a fraction like '8/255'") from err
    raise RtError(f"{where}: expected a number, got {type(value).__name__}")


def _check_type(value: Any, hint: Any, where: str) -> Any:
    base = get_origin(hint) or hint
    if hint is float:
        return parse_number(value, where)
    if base is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise RtError(f"{where}: expected an integer, got {value!r}")
    if base is bool and not isinstance(value, bool):
        raise RtError(f"{where}: expected true or false, got {value!r}")
    if base in (str, list, dict) and not isinstance(value, base):
        raise RtError(f"{where}: expected {base.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, data: Any, where: str):
    if not isinstance(data, dict):
        raise RtError(f"{where}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RtError(f"{where}.{unknown[0]}: unknown key; known keys of [{where}]: {', '.join(sorted(known))}")
    values = {key: _check_type(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except TypeError as err:
        raise RtError(f"{where}: {err}") from err


def check_fields(obj: Any, where: str) -> None:
    """Check every field of the config dataclass ``obj`` against the Check in its metadata, recursing
    into sections and sweeps; a number, bool or list field that declares no Check is a TypeError (a
    new key must state its range here, beside its default)."""
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        value, path = getattr(obj, f.name), f"{where}.{f.name}" if where else f.name
        check = f.metadata.get("check")
        if check is not None:
            check(value, path)
        elif "each" in f.metadata:  # a list of tables, each checked field by field
            for i, item in enumerate(value):
                check_fields(item, f"{path}[{i}]")
        elif hints[f.name] in (int, float, list):
            raise TypeError(f"config field {type(obj).__name__}.{f.name} declares no Check; add one with checked()")
        elif hints[f.name] is bool and not isinstance(value, bool):
            raise RtError(f"{path}: expected true or false, got {value!r}")
        elif dataclasses.is_dataclass(value):
            check_fields(value, path)


def validate(cfg: ExperimentConfig) -> None:
    """Every value of ``cfg`` against its declared Check, then the rules that join several keys. Run by
    :func:`parse` and again by the sweep (a config built in Python or given --seeds is checked too)."""
    _check_folds(cfg.transfer)
    check_fields(cfg, "")
    _check_sweeps(cfg.sweep)
    if cfg.train.nesterov and cfg.train.momentum <= 0:
        raise RtError("train.nesterov: Nesterov momentum needs train.momentum > 0; set momentum or nesterov = false")


def _check_folds(t: TransferConfig) -> None:
    if isinstance(t.probe_folds, int) and (t.probe_folds < 0 or t.probe_folds == 1):
        raise RtError(f"transfer.probe_folds: expected 0 (the train/test split) or a number of folds >= 2, "
                      f"got {t.probe_folds}")
    if t.probe_folds and t.mode != "linear_probe":
        raise RtError("transfer.probe_folds: cross-validation needs mode = \"linear_probe\"; "
                      "remove probe_folds or set the mode")
    if isinstance(t.probe_shots, int) and isinstance(t.probe_draws, int) and (t.probe_shots < 0 or t.probe_draws < 1):
        raise RtError(f"transfer.probe_shots / probe_draws: expected shots >= 0 (0: no few-shot probe) and "
                      f"draws >= 1, got {t.probe_shots} and {t.probe_draws}")
    if t.probe_shots and (t.probe_folds or t.mode != "linear_probe"):
        raise RtError("transfer.probe_shots: a few-shot probe needs mode = \"linear_probe\" and no probe_folds; "
                      "use one of probe_shots and probe_folds")


def _check_sweeps(sweeps: list[SweepConfig]) -> None:
    """One plugin at one strength is one trial: listing it twice with different options would give two
    rows per seed that the report cannot tell apart."""
    seen: dict[tuple[str, float], tuple[int, dict]] = {}
    for i, sweep in enumerate(sweeps):
        for strength in sweep.strengths:
            first = seen.setdefault((sweep.plugin, float(strength)), (i, sweep.options))
            if first[1] != sweep.options:
                raise RtError(f"sweep[{i}]: plugin '{sweep.plugin}' at strength {float(strength):g} is also in "
                              f"sweep[{first[0]}] with other options ({first[1]} vs {sweep.options}); give each "
                              "plugin+strength once (use another strength, or register the variant as its own plugin)")


def _sweeps(items: Any) -> list[SweepConfig]:
    if not isinstance(items, list):
        raise RtError("sweep: expected [[sweep]] tables, each with plugin and strengths")
    out = []
    for i, item in enumerate(items):
        where = f"sweep[{i}]"
        if not isinstance(item, dict) or "plugin" not in item or "strengths" not in item:
            raise RtError(f"{where}: each [[sweep]] needs 'plugin' and 'strengths'")
        sweep = _build(SweepConfig, item, where)
        strengths = fields(SweepConfig)[1].metadata["check"](sweep.strengths, f"{where}.strengths")
        out.append(dataclasses.replace(sweep, strengths=strengths))
    return out


def parse(data: dict) -> ExperimentConfig:
    """Validate a parsed TOML document into an ExperimentConfig: keys, types, choices and numbers (plugin,
    dataset and model names are looked up by ``rt_core.experiment.loading.from_dict``).

    >>> cfg = parse({"seeds": [0, 1], "sweep": [{"plugin": "blur", "strengths": ["1/2", 1]}]})
    >>> cfg.seeds, cfg.sweep[0].strengths, cfg.train.epochs
    ([0, 1], [0.5, 1.0], 10)
    """
    data = dict(data)
    sections = {k: _build(cls, data.pop(k), k) for k, cls in SECTIONS.items() if k in data}
    sweeps = _sweeps(data.pop("sweep", []))
    top = _build(ExperimentConfig, data, "config")
    cfg = dataclasses.replace(top, sweep=sweeps, **sections)
    validate(cfg)
    return cfg


def to_dict(cfg: Any) -> Any:
    """A plain, JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(cfg)
