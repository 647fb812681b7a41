"""``rt scores DIR``: the transferability scores of a store's finished trials, filled in afterwards
from the source models the sweep kept (``[source_models] keep = true``: ``DIR/models/<key>.safetensors``),
without retraining.

Each kept model is rebuilt from the store's own config (``meta.config``) and its trial's seed, its
weights loaded, and its features re-extracted exactly as a trial does it
(``rt_core.experiment.pipeline.feature_scores``: all target images, the head's logits). Only
``score_<name>`` metrics are written, each trial's in one transaction (``Store.merge_metrics``):
every other metric, timing and column of a finished row stays as it was. A finished trial whose
model was not kept is "not re-extractable" and left as it is. The store's writer lock is held
throughout, so a sweep writing the same store refuses to start (and this refuses while one runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from rt_core.errors import RtError
from rt_core.experiment.checkpoints import load_state
from rt_core.experiment.environment import resolve_device
from rt_core.experiment.loading import from_dict
from rt_core.experiment.parts import domains, new_model
from rt_core.experiment.pipeline import feature_scores
from rt_core.experiment.scoring import score_metric
from rt_core.experiment.trials import Trial
from rt_core.host.lookup import list_predictors
from rt_core.results.lock import WriterLock
from rt_core.results.store import Store


@dataclass
class Rescored:
    """What :func:`fill_scores` did: ``scored`` trial keys, ``complete`` (already had every score),
    ``not_extractable`` (finished, no kept model: their labels, "plugin strength seed N")."""

    scored: list[str] = field(default_factory=list)
    complete: int = 0
    not_extractable: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What ``rt scores`` prints: one line of counts, and one line listing the trials it could not score."""
        out = [f"scored {len(self.scored)} trial(s); {self.complete} already had every score"]
        if self.not_extractable:
            out.append(f"not re-extractable ({len(self.not_extractable)}: no kept model under models/, run with "
                       f"[source_models] keep = true to keep them): {', '.join(self.not_extractable)}")
        return out


def model_path(directory: str | Path, key: str) -> Path:
    """Where the sweep keeps trial ``key``'s source model."""
    return Path(directory) / "models" / f"{key}.safetensors"


def _label(row: dict) -> str:
    return f"{row['plugin']} {row['strength']:g} seed {row['seed']}"


def _todo(rows: list[dict], redo: bool) -> tuple[list[dict], int]:
    """(the finished rows to score, how many are already complete): a row lacking any registered score,
    or every finished row with ``redo``."""
    wanted = {score_metric(spec.name) for spec in list_predictors()}
    finished = [r for r in rows if r["status"] == "finished"]
    todo = [r for r in finished if redo or not wanted <= set(r["metrics"])]
    return todo, len(finished) - len(todo)


def _score(store: Store, directory: str | Path, rows: list[dict], device: str, quiet: bool) -> list[str]:
    """Re-extract and merge the scores of ``rows`` (each with a kept model); return their keys."""
    cfg = from_dict(json.loads(store.get_meta("config") or "{}"))
    dev = resolve_device(device)
    src, tgt = domains(cfg, dev)
    done = []
    for r in tqdm(rows, desc="scores", unit="trial", disable=quiet):
        model = new_model(cfg, src.num_classes, dev, r["seed"])
        path = model_path(directory, r["key"])
        try:
            model.load_state_dict(load_state(path))
        except RuntimeError as err:
            raise RtError(f"{path} does not fit the store's model ({str(err).splitlines()[0]}); it was kept by "
                          "another config: move it away and rerun") from None
        trial = Trial(r["plugin"], r["strength"], r["seed"])
        store.merge_metrics(r["key"], feature_scores(model, trial, src, tgt))
        done.append(r["key"])
    return done


def _locked(directory: str | Path) -> WriterLock:
    """The store's writer lock, taken; one RtError line when the folder cannot hold it."""
    try:
        return WriterLock(directory).acquire()
    except OSError as err:
        raise RtError(f"{directory}: cannot write there ({err.strerror or err}); scores are written into the "
                      "store, so give a folder you can write (a copy of a read-only one)") from err


def fill_scores(directory: str | Path, device: str = "auto", redo: bool = False, quiet: bool = True) -> Rescored:
    """Fill in the ``score_<name>`` metrics of the finished trials of the store in ``directory`` that lack
    any (every finished trial with ``redo``) from their kept source models; rewrite results.csv. The store
    is read read-only first, and written (under its writer lock) only when a kept model is to be scored.
    Returns what was done (:class:`Rescored`). RtError when there is no store or another process writes it."""
    reader = Store(directory, create=False, read_only=True)
    try:
        todo, complete = _todo(reader.rows(), redo)
    finally:
        reader.close()
    kept = [r for r in todo if model_path(directory, r["key"]).is_file()]
    lost = [_label(r) for r in todo if not model_path(directory, r["key"]).is_file()]
    result = Rescored(complete=complete, not_extractable=lost)
    if kept:
        with _locked(directory):
            store = Store(directory, create=False)
            try:
                result.scored = _score(store, directory, kept, device, quiet)
                store.write_csv()
            finally:
                store.close()
    return result
