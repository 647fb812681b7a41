"""One trial end to end: source training -> frozen features -> target head -> metrics.

Metrics (accuracies in percent): acc_src (clean source test accuracy of g_s . f), rob_src (PGD
accuracy on the first ``attack.n_eval`` source test images), acc_tgt (target test accuracy of the
fitted head; with ``transfer.probe_folds`` = k, k-fold cross-validated over the target's train
and test images together, every image when its val split is empty; with ``transfer.probe_shots`` = k,
the mean over fixed draws of a probe fitted on k images per class and scored on the others),
loss_src / loss_tgt (test cross-entropy of a probe fitted on source / target train features, the
target's cross-validated like acc_tgt: estimates of L*_S(f), L*_T(f)), probe_acc_src (source test
accuracy of that fresh source probe: the source side of the symmetric rel_dt_probe),
tau = loss_tgt - loss_src, plateau_step / plateau_frac (the training step at which the loss left its
initial plateau, and that step over all steps: ``training.plateau_step``; None when it never did,
and for brought checkpoints), plateau_stay_step / plateau_stay_frac (the step from which it stayed
off the plateau: ``training.plateau_stay_step``; later than plateau_step when the loss fell back onto
it), score_<name> (each registered transferability predictor on the
features of all target images, after the target head: :func:`feature_scores`, timed as scores_s).
rel_dt needs the vanilla trial of the same seed and is filled in by the sweep. The parts a trial is
built from (domains, a fresh model, the plugin objects) come from ``rt_core.experiment.parts``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from rt_core.experiment.checkpoints import checkpoint_for, load_into, save_model
from rt_core.experiment.config import ExperimentConfig
from rt_core.experiment.evaluation import accuracy_and_loss, predict_logits, robust_accuracy
from rt_core.experiment.parts import Domain, new_model, plugin_objects
from rt_core.experiment.scoring import needs_source_features, trial_scores
from rt_core.experiment.training import Generators, train_source
from rt_core.experiment.transfer import (
    cross_validated_logits,
    extract_features,
    few_shot_scores,
    finetune,
    fit_linear_probe,
)
from rt_core.experiment.trials import Trial
from rt_core.host.model import SplitModel


def _probe_metrics(model: SplitModel, src: Domain, tgt: Domain, cfg: ExperimentConfig) -> tuple[dict, dict, dict]:
    """(metrics, timings, the features: s_tr, s_te, t_tr, t_te) of the linear probes."""
    t0 = time.perf_counter()
    feats = {name: extract_features(model, x) for name, x in
             (("s_tr", src.x_train), ("s_te", src.x_test), ("t_tr", tgt.x_train), ("t_te", tgt.x_test))}
    t1 = time.perf_counter()
    t = cfg.transfer
    out = {}
    for dom, tr, te, d in (("src", "s_tr", "s_te", src), ("tgt", "t_tr", "t_te", tgt)):
        if dom == "tgt" and t.probe_shots:
            acc, loss = few_shot_scores(torch.cat([feats[tr], feats[te]]), torch.cat([d.y_train, d.y_test]),
                                        d.num_classes, t.probe_shots, t.probe_draws, t.probe_l2, t.probe_iters,
                                        t.probe_tol)
        elif dom == "tgt" and t.probe_folds:
            y = torch.cat([d.y_train, d.y_test])
            logits = cross_validated_logits(torch.cat([feats[tr], feats[te]]), y, d.num_classes,
                                            t.probe_folds, t.probe_l2, t.probe_iters, t.probe_tol)
            acc, loss = accuracy_and_loss(logits, y)
        else:
            probe = fit_linear_probe(feats[tr], d.y_train, d.num_classes, t.probe_l2, t.probe_iters, t.probe_tol)
            with torch.no_grad():
                acc, loss = accuracy_and_loss(probe(feats[te]), d.y_test)
        out[f"loss_{dom}"] = loss
        out["acc_tgt" if dom == "tgt" else "probe_acc_src"] = acc
    return out, {"features_s": t1 - t0, "head_fit_s": time.perf_counter() - t1}, feats


def _finetune_metrics(model: SplitModel, tgt: Domain, cfg: ExperimentConfig, gens: Generators) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    tuned = finetune(model, tgt.x_train, tgt.y_train, tgt.num_classes, cfg.transfer, gens.order)
    acc, loss = accuracy_and_loss(predict_logits(tuned, tgt.x_test), tgt.y_test)
    return {"acc_tgt": acc, "loss_tgt": loss}, {"finetune_s": time.perf_counter() - t0}


def feature_scores(model: SplitModel, trial: Trial, src: Domain, tgt: Domain, feats: dict | None = None) -> dict:
    """The trial's ``score_<name>`` metrics (``rt_core.experiment.scoring``): every registered predictor on
    f(x) of all target images (train then test, with their labels; also under a few-shot probe) and the
    head's logits on them; f of the source train images only when a predictor needs them. ``feats``:
    features already extracted (keys t_tr, t_te, s_tr, as the probe caches them); the missing ones
    are extracted here (fine-tuning caches none, ``rt scores`` none)."""
    feats = dict(feats or {})
    wanted = {"t_tr": tgt.x_train, "t_te": tgt.x_test, **({"s_tr": src.x_train} if needs_source_features() else {})}
    for name, x in wanted.items():
        if name not in feats:
            feats[name] = extract_features(model, x)
    source = (feats["s_tr"], src.y_train) if "s_tr" in wanted else None
    return trial_scores(model.head, torch.cat([feats["t_tr"], feats["t_te"]]), torch.cat([tgt.y_train, tgt.y_test]),
                        tgt.num_classes, source, f"{trial.label} seed {trial.seed}")


def evaluate_trial(model: SplitModel, trial: Trial, cfg: ExperimentConfig, src: Domain, tgt: Domain,
                   gens: Generators) -> tuple[dict, dict]:
    """Metrics and timings of a trained source model: acc_src, the target head, the scores, tau, rob_src."""
    t0 = time.perf_counter()
    metrics, timings = {}, {}
    metrics["acc_src"], _ = accuracy_and_loss(predict_logits(model, src.x_test), src.y_test)
    feats = None
    if cfg.transfer.mode == "linear_probe":
        more, t, feats = _probe_metrics(model, src, tgt, cfg)
    else:
        more, t = _finetune_metrics(model, tgt, cfg, gens)
    metrics.update(more)
    timings.update(t)
    t1 = time.perf_counter()
    metrics.update(feature_scores(model, trial, src, tgt, feats))
    timings["scores_s"] = time.perf_counter() - t1
    if "loss_src" in metrics:
        metrics["tau"] = metrics["loss_tgt"] - metrics["loss_src"]
    t2 = time.perf_counter()
    a = cfg.attack
    n = min(a.n_eval, len(src.x_test))
    metrics["rob_src"] = robust_accuracy(model, src.x_test[:n], src.y_test[:n], a.eps, a.steps, a.alpha or None,
                                         a.norm, a.restarts, seed=trial.seed)
    timings["robust_eval_s"] = time.perf_counter() - t2
    timings["evaluate_s"] = time.perf_counter() - t0
    return metrics, timings


def run_trial(trial: Trial, cfg: ExperimentConfig, src: Domain, tgt: Domain, device: torch.device,
              on_epoch: Callable[[int, float], None] | None = None, keep: Path | None = None) -> tuple[dict, dict]:
    """Run one trial; return (metrics, timings). Raises train.Diverged on a non-finite loss. The source model
    is trained, or loaded from the checkpoint the config brings for this trial; ``keep``: where to save it."""
    t0 = time.perf_counter()
    model = new_model(cfg, src.num_classes, device, trial.seed)
    gens = Generators.seeded(trial.seed, device)
    brought = checkpoint_for(cfg, trial)
    plateau: dict = {}
    if brought is not None:
        load_into(model, brought, cfg.model.name)
    else:
        augmentation, regularizer = plugin_objects(trial)
        log = train_source(model, src.x_train, src.y_train, cfg.train, gens, augmentation, regularizer, on_epoch)
        plateau = log.plateau(src.num_classes)
    if keep is not None:
        save_model(model, keep)
    train_s = time.perf_counter() - t0
    metrics, timings = evaluate_trial(model, trial, cfg, src, tgt, gens)
    return {**metrics, **plateau}, trial_timings(train_s, timings)


def trial_timings(train_s: float, evaluation: dict) -> dict:
    """A trial's timings: source training, then each evaluation phase, then the total."""
    phases = {k: v for k, v in evaluation.items() if k != "evaluate_s"}
    return {"source_train_s": train_s, **phases, "total_s": train_s + evaluation["evaluate_s"]}
