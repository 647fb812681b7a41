"""Transferability scores at feature time (score_<name> metrics of every trial) and ``rt scores``,
which fills them in afterwards from the kept source models without touching anything else."""

import json
import sqlite3

import numpy as np
import pytest
import torch

import rt_core
from rt_core import PredictorSpec, hookimpl
from rt_core.cli import main
from rt_core.experiment.checkpoints import load_state
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import from_dict
from rt_core.experiment.parts import load_domain, new_model
from rt_core.experiment.pipeline import run_trial
from rt_core.experiment.rescore import fill_scores, model_path
from rt_core.experiment.scoring import trial_scores
from rt_core.experiment.sweep import run_sweep
from rt_core.experiment.transfer import extract_features
from rt_core.experiment.trials import Trial
from rt_core.results.store import Store
from tests.helpers.tiny import write_tiny

SCORES = {f"score_{name}" for name in ("gbc", "hscore", "leep", "logme", "nce", "transrate")}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A finished tiny sweep (one seed, three trials) whose source models were kept."""
    folder = tmp_path_factory.mktemp("kept")
    cfg = from_dict({**_tiny(folder), "seeds": [0], "source_models": {"keep": True}})
    out = folder / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RT_CACHE", str(folder / "cache"))
        run_sweep(cfg, str(out), executor=LocalExecutor(workers=1), device="cpu", quiet=True)
    return out


def _rows(out):
    store = Store(out, create=False, read_only=True)
    try:
        return {r["key"]: r for r in store.rows()}
    finally:
        store.close()


def test_every_trial_stores_a_score_of_every_predictor_in_the_store_csv_table_and_export(kept):
    rows = _rows(kept)
    for r in rows.values():
        assert SCORES <= set(r["metrics"]) and all(np.isfinite(r["metrics"][s]) for s in SCORES)
        assert r["timings"]["scores_s"] > 0
    header = (kept / "results.csv").read_text().splitlines()[0].split(",")
    assert SCORES <= set(header) and header.index("score_gbc") > header.index("plateau_stay_frac")
    df = rt_core.load_results(kept)
    assert SCORES <= set(df.columns) and df["score_logme"].notna().all()
    exported = rt_core.export(kept, kept / "table.csv").read_text().splitlines()[0].split(",")
    assert SCORES <= set(exported)


def test_scores_use_all_target_images_and_the_source_heads_logits_under_a_few_shot_probe(tmp_path):
    cfg = from_dict({**_tiny(tmp_path), "transfer": {"probe_iters": 30, "probe_shots": 3, "probe_draws": 2}})
    dev = torch.device("cpu")
    src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
    metrics, _ = run_trial(Trial("vanilla", 0.0, 0), cfg, src, tgt, dev, keep=tmp_path / "m.safetensors")
    model = new_model(cfg, src.num_classes, dev, 0)
    model.load_state_dict(load_state(tmp_path / "m.safetensors"))
    z = extract_features(model, torch.cat([tgt.x_train, tgt.x_test]))
    y = torch.cat([tgt.y_train, tgt.y_test]).numpy()
    data = rt_core.PredictorInput(z.double().numpy(), y, tgt.num_classes,
                                  source_logits=model.head(z).detach().double().numpy())
    expected = rt_core.compute_scores(data)
    assert {f"score_{k}": v for k, v in expected.items()} == pytest.approx({s: metrics[s] for s in SCORES}, rel=1e-9)


def test_a_failing_predictor_scores_none_with_one_warning_line_and_the_others_still_count(rt_plugin, capsys):
    def boom(data):
        raise ValueError("cannot\nscore this")

    class Broken:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("boom", boom, higher_is_better=True))

    rt_plugin(Broken(), "broken")
    z, y = torch.randn(40, 5), torch.arange(40) % 4
    got = trial_scores(torch.nn.Linear(5, 3), z, y, 4, where="blur=1 seed 0")
    assert got["score_boom"] is None and SCORES <= set(got) and all(got[s] is not None for s in SCORES)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rt: warning: predictor 'boom' failed on blur=1 seed 0 (ValueError: cannot); its score is NaN"]


def test_features_no_predictor_can_take_give_none_for_every_score(capsys):
    z = torch.randn(20, 3)
    z[0, 0] = float("nan")
    got = trial_scores(torch.nn.Linear(3, 2), z, torch.arange(20) % 2, 2)
    assert SCORES <= set(got) and all(v is None for v in got.values())
    assert capsys.readouterr().err.count("\n") == 1


def test_rt_scores_fills_in_only_the_scores_from_the_kept_models(kept, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(kept, out)
    before = _rows(out)
    lost = next(k for k, r in before.items() if r["plugin"] == "blur")
    model_path(out, lost).unlink()
    conn = sqlite3.connect(out / "results.sqlite")
    for key, r in before.items():  # a store written before scores existed
        stripped = {k: v for k, v in r["metrics"].items() if not k.startswith("score_")}
        conn.execute("UPDATE trials SET metrics = ? WHERE key = ?", (json.dumps(stripped), key))
    conn.commit()
    conn.close()
    done = fill_scores(out)
    assert sorted(done.scored) == sorted(set(before) - {lost}) and done.complete == 0
    assert done.not_extractable == [f"blur 1 seed {before[lost]['seed']}"]
    after = _rows(out)
    for key, r in after.items():
        old = before[key]
        assert {k: v for k, v in r.items() if k != "metrics"} == {k: v for k, v in old.items() if k != "metrics"}
        if key == lost:
            assert not SCORES & set(r["metrics"])
            continue
        measured = {k: v for k, v in r["metrics"].items() if not k.startswith("score_")}
        assert measured == {k: v for k, v in old["metrics"].items() if not k.startswith("score_")}
        assert {s: r["metrics"][s] for s in SCORES} == pytest.approx({s: old["metrics"][s] for s in SCORES}, rel=1e-9)
    assert fill_scores(out).scored == [] and fill_scores(out).complete == len(before) - 1


def test_rt_scores_lists_the_trials_it_cannot_re_extract_in_one_line_and_writes_nothing(kept, tmp_path, capsys):
    import shutil

    out = tmp_path / "nomodels"
    shutil.copytree(kept, out, ignore=shutil.ignore_patterns("models"))
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["scores", str(out), "--quiet", "--redo"]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files  # nothing to score: nothing written
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "scored 0 trial(s); 0 already had every score"
    assert lines[1].startswith("not re-extractable (3: no kept model under models/") and "vanilla 0 seed 0" in lines[1]
    assert main(["scores", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_rt_scores_refuses_a_store_that_a_sweep_is_writing(kept, tmp_path):
    import shutil

    from rt_core import RtError
    from rt_core.results.lock import WriterLock

    out = tmp_path / "busy"
    shutil.copytree(kept, out)
    with WriterLock(out), pytest.raises(RtError, match="being written by another rt run"):
        fill_scores(out, redo=True)


def _tiny(tmp_path):
    import tomllib

    with open(write_tiny(tmp_path / "tiny.toml"), "rb") as fh:
        return tomllib.load(fh)


def test_a_fine_tuned_trial_is_scored_on_the_source_models_own_features(tmp_path):
    """Fine-tuning caches no features: the scores extract them from the source model (not the tuned copy)."""
    cfg = from_dict({**_tiny(tmp_path), "transfer": {"mode": "finetune", "epochs": 1, "milestones": []}})
    dev = torch.device("cpu")
    src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
    metrics, timings = run_trial(Trial("vanilla", 0.0, 0), cfg, src, tgt, dev, keep=tmp_path / "m.safetensors")
    model = new_model(cfg, src.num_classes, dev, 0)
    model.load_state_dict(load_state(tmp_path / "m.safetensors"))
    z = extract_features(model, torch.cat([tgt.x_train, tgt.x_test]))
    expected = trial_scores(model.head, z, torch.cat([tgt.y_train, tgt.y_test]), tgt.num_classes)
    assert {s: metrics[s] for s in SCORES} == pytest.approx({s: expected[s] for s in SCORES}, rel=1e-9)
    assert "finetune_s" in timings and timings["scores_s"] > 0
