"""Transferability scores of a trial, from the features its evaluation already extracted.

Every registered predictor (``rt_register_predictors``) is computed once per trial and stored as the
metric ``score_<name>``. What it sees (a ``PredictorInput``): the source model's features f(x) of
*all* target images, train then test, with their labels, whatever the probe (plain, k-fold or
few-shot ``transfer.probe_shots``): a score needs labels but fits no head, so no image is held out,
and with a few-shot probe it sees every image the draws are taken from, not the k shots of one draw.
``source_logits`` are the source head's logits g(f(x)) on those images (the head applied to the
cached features); ``source_features`` / ``source_labels`` (f of the source train images) only when a
registered predictor needs them. A predictor that raises scores None (NaN in ``load_results``, empty
in results.csv) with one warning line on stderr; it never fails the trial.
"""

from __future__ import annotations

import sys
from typing import Any

import torch

from rt_core.errors import RtError
from rt_core.host.lookup import list_predictors
from rt_core.host.predictor import PredictorInput, compute_score

PREFIX = "score_"


def score_metric(predictor: str) -> str:
    """The metric (and results column) of ``predictor``'s score.

    >>> score_metric("logme")
    'score_logme'
    """
    return PREFIX + predictor


def needs_source_features() -> bool:
    """Whether any registered predictor reads the source features (only then are they passed)."""
    return any("source_features" in spec.needs for spec in list_predictors())


def _warn(what: str, err: Exception) -> None:
    line = f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__
    print(f"rt: warning: {what} ({line}); its score is NaN", file=sys.stderr)


def scores(data: PredictorInput, where: str = "this trial") -> dict[str, float | None]:
    """``{score_<name>: compute_score(name, data)}`` for every registered predictor whose needs ``data``
    meets, in name order; a predictor that raises gives None and one warning line naming ``where``.
    BLAS runs on one thread, as in the probe's fit (threads would fight the trial's torch threads).

    >>> import numpy as np
    >>> y = np.arange(40) % 2
    >>> data = PredictorInput(np.c_[y, 1 - y] + np.random.default_rng(0).normal(size=(40, 2)), y, 2)
    >>> sorted(scores(data))
    ['score_gbc', 'score_hscore', 'score_logme', 'score_transrate']
    """
    from threadpoolctl import threadpool_limits

    out: dict[str, float | None] = {}
    with threadpool_limits(1, user_api="blas"):
        for spec in list_predictors():
            if spec.missing(data):
                continue
            try:
                out[score_metric(spec.name)] = compute_score(spec.name, data)
            except Exception as err:  # noqa: BLE001 - a failing predictor costs its score, never the trial
                _warn(f"predictor '{spec.name}' failed on {where}", err)
                out[score_metric(spec.name)] = None
    return dict(sorted(out.items()))


def _numpy(t: torch.Tensor) -> Any:
    """``t`` as a numpy array on the CPU: float64 for floats, int64 for labels."""
    t = t.detach().cpu()
    return t.double().numpy() if t.is_floating_point() else t.long().numpy()


def trial_scores(head: torch.nn.Module, z: torch.Tensor, y: torch.Tensor, num_classes: int,
                 source: tuple[torch.Tensor, torch.Tensor] | None = None, where: str = "this trial"
                 ) -> dict[str, float | None]:
    """:func:`scores` of a source model's target features ``z`` (n, d) with labels ``y``: source logits
    ``head(z)``, and ``source`` = (source features, labels) when given. Inputs a predictor cannot take
    (a non-finite feature) give every registered score None, with one warning line.

    >>> import rt_core
    >>> model = rt_core.create_model("cifar_cnn", num_classes=3, width=0.25, hidden=8, image_size=8)
    >>> z = rt_core.extract_features(model, torch.rand(30, 3, 8, 8))
    >>> got = trial_scores(model.head, z, torch.arange(30) % 4, 4)
    >>> sorted(got)[:3], all(v == v for v in got.values())
    (['score_gbc', 'score_hscore', 'score_leep'], True)
    """
    with torch.no_grad():
        logits = head(z.to(next(head.parameters()).dtype))
    extra = {} if source is None else {"source_features": _numpy(source[0]), "source_labels": _numpy(source[1])}
    try:
        data = PredictorInput(_numpy(z), _numpy(y), num_classes, source_logits=_numpy(logits), **extra)
    except RtError as err:
        _warn(f"the predictors cannot take the features of {where}", err)
        return {score_metric(spec.name): None for spec in list_predictors()}
    return scores(data, where)
