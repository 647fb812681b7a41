"""Where a quickstart source-training step spends its time on CPU, and what the candidate speed-ups
give, on one torch thread (a default worker's): a plain step of ``train_step`` (the sweep's code)
on a channels_last model at batch 32.

- Profile (torch.profiler, ``steps`` steps): self CPU time by group: convolution forward and
  backward (oneDNN), the optimizer step, the rest (pooling, activations, linear layers, copies, autograd).
- Step time of each candidate against the current step (SGD ``foreach=True``), interleaved medians:
  the per-parameter loop SGD (``foreach=False``, the step before), SGD ``fused=True``, the model
  in NCHW instead of channels_last, and (``compile=True``, from the command line
  ``python -m benchmarks.step_profile --compile``) ``torch.compile`` of the forward, with its
  compile time. ``bit_identical`` says whether 30 steps give exactly the current weights.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import SEED, domains, quickstart
from benchmarks.harness import Measure, info, interleaved_times, table, write_results
from rt_core.engine import Generators, new_model, train_step

GROUPS = {"convolution forward": ("aten::mkldnn_convolution",), "convolution backward": ("aten::convolution_backward",),
          "optimizer step": ("Optimizer.step",)}
# "current" is the sweep's optimizer (training.make_optimizer: SGD foreach=True); "loop SGD" the
# per-parameter loop it replaced.
CANDIDATES = {"current": {"foreach": True}, "loop SGD": {"foreach": False}, "fused SGD": {"fused": True},
              "NCHW model": {"foreach": True}}


def _stepper(cfg, src, kind: str, options: dict) -> tuple[Callable[[], Any], torch.nn.Module]:
    device = src.x_train.device
    model = new_model(cfg, src.num_classes, device, SEED).train()
    if kind == "NCHW model":
        model = model.to(memory_format=torch.contiguous_format)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.train.lr, momentum=cfg.train.momentum, **options)
    if kind == "torch.compile":
        model.forward_split = torch.compile(model.forward_split)
    gens = Generators.seeded(SEED, device)
    batches = [(src.x_train[i:i + 32], src.y_train[i:i + 32]) for i in range(0, 32 * 30, 32)]
    state = {"i": 0}

    def step():
        xb, yb = batches[state["i"] % len(batches)]
        state["i"] += 1
        return train_step(model, opt, xb, yb, gens, None, None, "none", False)
    return step, model


def profile_groups(step: Callable[[], Any], steps: int) -> dict[str, float]:
    """Share (0..1) of the profiled self CPU time per group of GROUPS, and 'other'."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    shares = {g: sum(e.self_cpu_time_total for e in events if e.key.startswith(names)) / total
              for g, names in GROUPS.items()}
    return {**shares, "other": 1 - sum(shares.values())}


def _weights_after(cfg, src, kind: str, options: dict) -> torch.Tensor:
    step, model = _stepper(cfg, src, kind, options)
    for _ in range(30):
        step()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def run(device: torch.device, repeats: int = 15, steps: int = 50, compile: bool = False) -> tuple[list[Measure], dict]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = quickstart()
        src, _ = domains(cfg, torch.device("cpu"))
        kinds = {**CANDIDATES, **({"torch.compile": {"foreach": True}} if compile else {})}
        steppers, compile_s = {}, None
        for kind, options in kinds.items():
            t0 = time.perf_counter()
            steppers[kind] = _stepper(cfg, src, kind, options)[0]
            steppers[kind]()
            if kind == "torch.compile":
                compile_s = time.perf_counter() - t0
        shares = profile_groups(steppers["current"], steps)
        times = interleaved_times(steppers, repeats, warmup=5)
        reference = _weights_after(cfg, src, "current", kinds["current"])
        identical = {k: bool(torch.equal(_weights_after(cfg, src, k, o), reference)) for k, o in kinds.items()
                     if k != "current"}
    finally:
        torch.set_num_threads(before)
    measures = [info("current step (1 thread, batch 32)", times["current"] * 1e3, "ms"),
                *[info(f"share of step: {g}", 100 * s, "%") for g, s in shares.items()],
                *[info(f"step speed-up: {k}", times["current"] / times[k], "x") for k in kinds if k != "current"]]
    if compile_s is not None:
        measures.append(info("torch.compile: compile time", compile_s, "s"))
    return measures, {"threads": 1, "batch": 32, "repeats": repeats, "profiled_steps": steps,
                      "bit_identical_after_30_steps": identical,
                      "step_ms": {k: round(v * 1e3, 3) for k, v in times.items()}}


if __name__ == "__main__":
    found, details = run(torch.device("cpu"), compile="--compile" in sys.argv)
    name = "step_profile_compile" if "--compile" in sys.argv else "step_profile"
    print(table(f"{name} -> {write_results('benchmarks/results', name, found, [SEED], details)}", found))
