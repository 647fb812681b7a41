"""The benchmark harness and the pieces of the benchmarks that can be checked on tiny inputs
(the benchmarks themselves run with `rt bench`, not in the test suite)."""

import json

import pytest
import torch

from benchmarks import gpu
from benchmarks.harness import at_least, at_most, info, median_time, write_results
from benchmarks.head_fit import sgd_through_frozen
from rt_core import create_model
from rt_core.cli import main


def test_results_file_has_hardware_versions_seeds_and_measures(tmp_path):
    calls = []
    t = median_time(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and t >= 0
    measures = [at_least("speed-up", 3.5, "x", 3), at_most("step ratio", 7.0, "x", 6.5), info("time", 1.5, "s")]
    path = write_results(tmp_path, "demo", measures, [0], {"repeats": 5})
    blob = json.loads(path.read_text())
    assert {"hardware", "versions", "seeds", "measures", "details"} <= set(blob)
    assert blob["hardware"]["cpu_cores"] >= 1 and blob["versions"]["torch"] == torch.__version__
    assert [(m["name"], m["goal"], m["met"]) for m in blob["measures"]] == [
        ("speed-up", ">= 3", True), ("step ratio", "<= 6.5", False), ("time", "", None)]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]  # no temporary file left


def test_without_a_gpu_every_gpu_figure_is_written_unmeasured():
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    measures, details = gpu.run(torch.device("cpu"))
    assert measures and all(m.value is None and m.met is None and m.goal for m in measures)
    assert "no CUDA GPU" in details["unmeasured"]


def test_attack_step_flops_of_a_linear_model_is_4dk():
    d, k = 3 * 4 * 4, 10
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, k))
    flops = gpu.attack_step_flops(model, torch.rand(8, 3, 4, 4))
    assert flops == 4 * d * k  # forward x W^T (2dk) + gradient w.r.t. the input (2dk), no weight gradient


@pytest.mark.parametrize("bf16", [False, True])  # bf16 autocast runs on CPU too: the GPU path's code
def test_pgd_rate_runs_and_reports_an_accuracy(bf16):
    torch.manual_seed(0)
    model = create_model("cifar_cnn", num_classes=10, width=0.25, hidden=8, image_size=8)
    x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 10, (16,))
    rate, acc = gpu.pgd_rate(model, x, y, batch=8, bf16=bf16)
    assert rate > 0 and 0 <= acc <= 100


def test_sgd_through_frozen_trains_only_the_head_and_times_each_epoch():
    torch.manual_seed(0)
    model = create_model("cifar_cnn", num_classes=10, width=0.25, hidden=8, image_size=8).eval()
    before = [p.clone() for p in model.parameters()]
    x, y = torch.rand(64, 3, 8, 8), torch.randint(0, 3, (64,))
    head, times = sgd_through_frozen(model, x, y, 3, epochs=4, batch=16)
    assert len(times) == 4 and head.out_features == 3
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_unknown_benchmark_is_one_clear_error(capsys):
    assert main(["bench", "nope"]) == 2
    assert "unknown benchmark(s) nope; known: head_fit" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["gpu", "--tiny"], "--tiny writes checks, not figures: give --out a folder other than benchmarks/results"),
    (["--tiny", "--out", "OUT"], "--tiny: name the benchmarks to check, among gpu, packed"),
    (["gpu", "pgd", "--tiny", "--out", "OUT"], "--tiny: name the benchmarks to check, among gpu, packed")])
def test_tiny_checks_name_their_benchmarks_and_never_write_into_the_results(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["bench", *[str(out) if a == "OUT" else a for a in argv]]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_packed_benchmark_trains_a_model_both_packings_take():
    from benchmarks.common import quickstart
    from benchmarks.packed import packable
    from rt_core.experiment.packing.plan import packing_method

    cfg = packable(quickstart())
    assert packing_method(cfg, 10) == "grouped" and not cfg.train.nesterov
    assert cfg.model.options["hidden"] == quickstart().model.options["hidden"]
