"""Sweeps end to end on a tiny config: every metric stored, resume after SIGKILL, rel_dt."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from rt_core import RtError
from rt_core.experiment.environment import resolve_device
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import from_dict, load_config
from rt_core.experiment.parts import load_domain
from rt_core.experiment.pipeline import run_trial
from rt_core.experiment.sweep import fill_rel_dt, run_sweep
from rt_core.experiment.trials import Trial
from rt_core.results.store import METRICS, Store
from tests.helpers.tiny import TINY_RUN_EXIT, write_tiny


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def test_sweep_fills_every_trial_and_metric_and_resumes(tmp_path):
    cfg = load_config(write_tiny(tmp_path / "tiny.toml"))
    counts = run_sweep(cfg, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True)
    assert counts == {"total": 6, "skipped": 0, "finished": 6}
    rows = Store(tmp_path / "out").rows()
    assert len(rows) == 6 and all(r["status"] == "finished" for r in rows)
    for r in rows:
        assert set(METRICS) <= set(r["metrics"]) and all(v == v for v in r["metrics"].values())
        assert set(r["timings"]) == {"source_train_s", "features_s", "head_fit_s", "scores_s", "robust_eval_s",
                                     "total_s"}
        assert r["versions"]["torch"] == torch.__version__ and r["config"]["trial"]["seed"] == r["seed"]
        assert 0 <= r["metrics"]["rob_src"] <= 100 and r["started"] <= r["finished"]
    assert all(r["metrics"]["rel_dt"] == 0.0 for r in rows if r["plugin"] == "vanilla")
    again = run_sweep(cfg, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True)
    assert again == {"total": 6, "skipped": 6}
    assert (tmp_path / "out" / "results.csv").read_text().count("\n") == 7


def test_identity_strength_is_exactly_the_vanilla_trial(tmp_path):
    cfg = load_config(write_tiny(tmp_path / "tiny.toml"))
    dev = torch.device("cpu")
    src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
    vanilla, _ = run_trial(Trial("vanilla", 0.0, 0), cfg, src, tgt, dev)
    for plugin in ("blur", "rotation", "jacobian", "adversarial", "weight_decay"):
        same, _ = run_trial(Trial(plugin, 0.0, 0), cfg, src, tgt, dev)
        assert same == vanilla, plugin


def test_cross_validated_acc_tgt_scores_every_target_image_once(tmp_path):
    """probe_folds = 3: acc_tgt and loss_tgt are the out-of-fold scores over train + test images,
    recomputed here from the kept model's features; the source side stays on its split."""
    from rt_core.experiment.checkpoints import load_into
    from rt_core.experiment.evaluation import accuracy_and_loss
    from rt_core.experiment.parts import new_model
    from rt_core.experiment.transfer import cross_validated_logits, extract_features

    plain = from_dict(_tiny_dict(write_tiny(tmp_path / "tiny.toml")))
    folded_cfg = from_dict({**_tiny_dict(tmp_path / "tiny.toml"), "transfer": {"probe_iters": 30, "probe_folds": 3}})
    dev = torch.device("cpu")
    src, tgt = load_domain(plain.source, dev), load_domain(plain.target, dev)
    split, _ = run_trial(Trial("vanilla", 0.0, 0), plain, src, tgt, dev)
    folded, _ = run_trial(Trial("vanilla", 0.0, 0), folded_cfg, src, tgt, dev, keep=tmp_path / "m.safetensors")
    assert folded["acc_src"] == split["acc_src"] and folded["probe_acc_src"] == split["probe_acc_src"]
    model = new_model(folded_cfg, tgt.num_classes, dev, 0)
    load_into(model, tmp_path / "m.safetensors", "cifar_cnn")
    z = extract_features(model, torch.cat([tgt.x_train, tgt.x_test]))
    y = torch.cat([tgt.y_train, tgt.y_test])
    acc, loss = accuracy_and_loss(cross_validated_logits(z, y, tgt.num_classes, 3, 1e-4, 30, 1e-9), y)
    assert folded["acc_tgt"] == pytest.approx(acc) and folded["loss_tgt"] == pytest.approx(loss)
    assert abs(folded["acc_tgt"] * len(y) / 100 - round(folded["acc_tgt"] * len(y) / 100)) < 1e-3


def test_few_shot_acc_tgt_is_the_mean_over_draws_of_the_kept_models_features(tmp_path):
    """probe_shots = 3: acc_tgt and loss_tgt are few_shot_scores over train + test target images,
    recomputed from the kept model; the trial also reports where its loss left the plateau."""
    from rt_core.experiment.checkpoints import load_into
    from rt_core.experiment.parts import new_model
    from rt_core.experiment.transfer import extract_features, few_shot_scores

    transfer = {"probe_iters": 30, "probe_shots": 3, "probe_draws": 4}
    cfg = from_dict({**_tiny_dict(write_tiny(tmp_path / "tiny.toml")), "transfer": transfer})
    dev = torch.device("cpu")
    src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
    metrics, _ = run_trial(Trial("vanilla", 0.0, 0), cfg, src, tgt, dev, keep=tmp_path / "m.safetensors")
    model = new_model(cfg, tgt.num_classes, dev, 0)
    load_into(model, tmp_path / "m.safetensors", "cifar_cnn")
    z = extract_features(model, torch.cat([tgt.x_train, tgt.x_test]))
    acc, loss = few_shot_scores(z, torch.cat([tgt.y_train, tgt.y_test]), tgt.num_classes, 3, 4, 1e-4, 30, 1e-9)
    assert metrics["acc_tgt"] == pytest.approx(acc) and metrics["loss_tgt"] == pytest.approx(loss)
    steps = 2 * -(-120 // 32)
    assert metrics["plateau_step"] is None or 10 <= metrics["plateau_step"] <= steps
    assert metrics["plateau_frac"] == (None if metrics["plateau_step"] is None else metrics["plateau_step"] / steps)
    stay = metrics["plateau_stay_step"]
    assert stay is None or (metrics["plateau_step"] <= stay and metrics["plateau_stay_frac"] == stay / steps)


def test_same_seed_same_metrics(tmp_path):
    cfg = load_config(write_tiny(tmp_path / "tiny.toml"))
    dev = torch.device("cpu")
    src, tgt = load_domain(cfg.source, dev), load_domain(cfg.target, dev)
    t = Trial("translation", 0.1, 1)
    assert run_trial(t, cfg, src, tgt, dev)[0] == run_trial(t, cfg, src, tgt, dev)[0]


def test_rel_dt_arithmetic(tmp_path):
    store = Store(tmp_path)
    rows = [("v0", "vanilla", 0.0, 0, 90.0, 60.0), ("b0", "blur", 1.0, 0, 85.0, 62.0),
            ("v1", "vanilla", 0.0, 1, 80.0, 50.0), ("b1", "blur", 1.0, 1, 70.0, 55.0),
            ("b2", "blur", 1.0, 2, 70.0, 1.0)]
    for key, plugin, strength, seed, src, tgt in rows:
        store.start(key, plugin, strength, seed, {})
        store.finish(key, "finished", {"acc_src": src, "acc_tgt": tgt}, {}, {})
    fill_rel_dt(store)
    got = {r["key"]: r["metrics"].get("rel_dt") for r in store.rows()}
    # blur seed 0: (62 - 85) - (60 - 90) = 7; seed 1: (55 - 70) - (50 - 80) = 15; seed 2: no vanilla
    assert got == {"v0": 0.0, "b0": 7.0, "v1": 0.0, "b1": 15.0, "b2": None}


def test_diverged_trial_is_stored_with_its_epoch(tmp_path):
    path = write_tiny(tmp_path / "t.toml")
    cfg = from_dict({**_tiny_dict(path), "train": {"epochs": 2, "batch_size": 32, "lr": 1e6, "weight_decay": 0.0}})
    counts = run_sweep(cfg, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True)
    rows = Store(tmp_path / "out").rows()
    assert counts["diverged"] == len(rows) and all(r["status"] == "diverged" and r["epoch"] == 1 for r in rows)


def _tiny_dict(path):
    import tomllib

    with open(path, "rb") as fh:
        return tomllib.load(fh)


def test_store_from_a_different_config_is_refused_unless_forced(tmp_path):
    path = write_tiny(tmp_path / "tiny.toml")
    cfg = load_config(path)
    run_sweep(from_dict({**_tiny_dict(path), "sweep": []}), str(tmp_path / "out"), executor=LocalExecutor(),
              device="cpu", quiet=True)
    other = from_dict({**_tiny_dict(path), "sweep": [], "attack": {"eps": 0.5, "steps": 2, "n_eval": 20}})
    with pytest.raises(RtError, match="holds results of a different config.*--force"):
        run_sweep(other, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True)
    assert run_sweep(cfg, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True)["skipped"] == 2


def test_a_foreign_sqlite_file_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.execute("CREATE TABLE trials (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(RtError, match="is not an rt results store"):
        Store(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "results.sqlite").write_text("plain text, not sqlite " * 100)
    with pytest.raises(RtError, match="is not an rt results store"):
        Store(tmp_path / "x")


def test_cuda_without_a_gpu_is_one_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(RtError, match="no CUDA GPU is visible; use --device cpu or auto"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def _finished(db) -> int:
    try:
        conn = sqlite3.connect(db, timeout=1)
        n = conn.execute("SELECT COUNT(*) FROM trials WHERE status = 'finished'").fetchone()[0]
        conn.close()
        return n
    except sqlite3.Error:
        return 0


def test_sigkill_mid_sweep_then_rerun_completes_each_trial_once(tmp_path):
    # 26 sub-second trials, so that the kill after the second one lands mid-sweep even when the
    # poll misses a few (a locked database reads as 0 finished)
    rotations = list(range(2, 22, 2))
    cfg = write_tiny(tmp_path / "tiny.toml", f'[[sweep]]\nplugin = "rotation"\nstrengths = {rotations}\n')
    total = 2 * (3 + len(rotations))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rt_core.cli", "run", cfg, "--out", str(out), "--device", "cpu", "--quiet",
           "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _finished(out / "results.sqlite") < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    time.sleep(0.2)  # into the next trial
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_time = time.time()
    killed_at = _finished(out / "results.sqlite")
    assert 2 <= killed_at < total
    interrupted = [r["key"] for r in Store(out).rows() if r["status"] == "running"]
    assert 1 <= len(interrupted) <= 2  # killed in the middle of a trial (one per worker, 2 workers)
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == TINY_RUN_EXIT and "warning: the vanilla model" in rerun.stderr, rerun.stderr[-2000:]
    assert f"({killed_at} skipped, {total - killed_at} finished)" in rerun.stdout
    rows = Store(out).rows()
    assert len(rows) == total and len({r["key"] for r in rows}) == total
    assert all(r["status"] == "finished" for r in rows)
    redone = [r for r in rows if r["key"] in interrupted]
    assert all(r["started"] > killed_time for r in redone)  # the interrupted trials were re-run from scratch


def test_lr_schedule_is_warmup_then_multistep():
    from rt_core.experiment.config import TrainConfig
    from rt_core.experiment.training import lr_factor

    cfg = TrainConfig(warmup_epochs=0.5, milestones=[2, 3], gamma=0.1)
    assert lr_factor(1, 0, 10, cfg) == 0.2 and lr_factor(1, 4, 10, cfg) == 1.0
    assert lr_factor(2, 10, 10, cfg) == 1.0 and abs(lr_factor(3, 20, 10, cfg) - 0.1) < 1e-12
    assert abs(lr_factor(4, 30, 10, cfg) - 0.01) < 1e-12
    # the same drops as torch's MultiStepLR stepped once per epoch
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 3], gamma=0.1)
    for epoch in range(1, 6):
        assert abs(opt.param_groups[0]["lr"] - lr_factor(epoch, 100, 10, cfg)) < 1e-12
        opt.step()
        sched.step()


def test_crop_flip_keeps_shape_and_moves_content():
    from rt_core.experiment.training import crop_flip

    x = torch.rand(8, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    y = crop_flip(x, g, flip=True)
    assert y.shape == x.shape and not torch.equal(x, y)
    centre = crop_flip(torch.ones(4, 1, 8, 8), torch.Generator().manual_seed(1), flip=False, pad=2)
    assert centre[:, :, 2:6, 2:6].eq(1).all()  # a shift of at most 2 keeps the centre inside


def test_each_trial_records_its_own_start_time(tmp_path):

    cfg = load_config(write_tiny(tmp_path / "tiny.toml"))  # one trial after another, so times do not overlap
    run_sweep(cfg, str(tmp_path / "out"), device="cpu", quiet=True, executor=LocalExecutor(1, 1))
    rows = sorted(Store(tmp_path / "out").rows(), key=lambda r: r["started"])
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier["finished"] <= later["started"]


def test_cosine_schedule_warms_up_then_decays_to_zero():
    from rt_core.experiment.config import TrainConfig
    from rt_core.experiment.training import lr_factor

    cfg = TrainConfig(epochs=4, warmup_epochs=1, schedule="cosine", milestones=[2])
    assert lr_factor(1, 4, 10, cfg) == 0.5 and lr_factor(1, 9, 10, cfg) == 1.0
    assert abs(lr_factor(3, 25, 10, cfg) - 0.5) < 1e-12 and lr_factor(4, 40, 10, cfg) == 0.0


def test_the_sweeps_optimizer_is_foreach_sgd_and_steps_exactly_like_the_loop():
    from rt_core.experiment.models import cifar_cnn
    from rt_core.experiment.training import make_optimizer

    def weights_after(foreach: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = cifar_cnn(width=0.25, hidden=16, image_size=8, norm="batch")
        opt = make_optimizer(model, 0.05, 0.9, 1e-3, None)
        assert opt.defaults["foreach"] is True
        opt.defaults["foreach"] = foreach
        for group in opt.param_groups:
            group["foreach"] = foreach
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            x, y = torch.rand(8, 3, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(weights_after(True), weights_after(False))
