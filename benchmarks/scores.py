"""What the transferability scores add to a trial: every registered predictor computed at feature
time (``rt_core.engine.feature_scores``, on the features the probe already extracted) against the
rest of a demo trial.

A demo trial is the quickstart's (``make demo``: the study's protocol, 5-shot target probe) run end
to end by ``run_trial``, training included; its own timings give the scores' time (``scores_s``) and
the rest (``total_s - scores_s``), so both come from one run on one machine state. Measures: the ratio
scores / rest, the median over ``TRIALS`` trials (vanilla of seeds 0, 1, 2; goal <= 0.10), and, in
the details, each predictor's median time over ``REPEATS`` calls on the first trial's features.
Run: ``python -m benchmarks.scores`` (one torch thread, as each worker of ``make demo`` on a CPU).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from benchmarks.common import domains, quickstart
from benchmarks.harness import Measure, at_most, info, median_time
from rt_core import PredictorInput, compute_score, extract_features, list_predictors
from rt_core.engine import Trial, new_model, run_trial

TRIALS = 3
REPEATS = 5
GOAL = 0.10


def _inputs(cfg, src, tgt, path: Path) -> PredictorInput:
    """The predictors' input of the kept model at ``path``, as a trial builds it: all target images."""
    from safetensors.torch import load_file

    model = new_model(cfg, src.num_classes, src.x_train.device, 0)
    model.load_state_dict(load_file(str(path)))
    z = extract_features(model, torch.cat([tgt.x_train, tgt.x_test]))
    with torch.no_grad():
        logits = model.head(z)
    y = torch.cat([tgt.y_train, tgt.y_test])
    return PredictorInput(z.double().cpu().numpy(), y.cpu().numpy(), tgt.num_classes,
                          source_logits=logits.double().cpu().numpy())


def per_predictor(data: PredictorInput) -> dict[str, float]:
    """Median seconds of each registered predictor on ``data`` (one BLAS thread, as in a trial)."""
    with threadpool_limits(1, user_api="blas"):
        return {spec.name: median_time(lambda s=spec: compute_score(s.name, data), REPEATS)
                for spec in list_predictors() if not spec.missing(data)}


def run(device: torch.device, tiny: bool = False) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    src, tgt = domains(cfg, device)
    ratios, trials = [], []
    with tempfile.TemporaryDirectory() as folder:
        kept = Path(folder) / "m.safetensors"
        for seed in range(TRIALS):
            _, t = run_trial(Trial("vanilla", 0.0, seed), cfg, src, tgt, device, keep=kept if seed == 0 else None)
            rest = t["total_s"] - t["scores_s"]
            ratios.append(t["scores_s"] / rest)
            trials.append({"seed": seed, "scores_s": round(t["scores_s"], 3), "rest_s": round(rest, 2)})
        each = per_predictor(_inputs(cfg, src, tgt, kept))
    ratio = statistics.median(ratios)
    measures = [at_most("scores / rest of a demo trial", ratio, "x", GOAL),
                info("scores per demo trial", statistics.median(t["scores_s"] for t in trials), "s")]
    return measures, {"trials": trials, "ratios": [round(r, 4) for r in ratios],
                      "per_predictor_s": {k: round(v, 4) for k, v in each.items()}, "config": "quickstart",
                      "n_target_images": len(tgt.y_train) + len(tgt.y_test)}


if __name__ == "__main__":  # python -m benchmarks.scores [--device cpu]: writes benchmarks/results/scores.json
    import argparse
    import time

    from benchmarks.harness import DEFAULT_OUT, table, write_results
    from rt_core.engine import resolve_device

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a demo worker's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    found, about = run(resolve_device(args.device))
    about["wall_s"] = round(time.perf_counter() - t0, 2)
    print(table(f"scores -> {write_results(args.out, 'scores', found, list(range(TRIALS)), about)}", found))
