"""The GPU hot path, measured only where a CUDA GPU is visible; elsewhere every figure is written
as unmeasured (value null) with the reason, and the CPU benchmarks stand on their own.

- ResNet-18 (CIFAR variant) plain training epoch: 50,000 32x32 images resident on the GPU, batch
  512, random crop + flip batched on the device, bf16 autocast, channels_last; goal <= 1.0 s.
- PGD-20 L2 (eps 0.25) evaluation throughput, bf16 autocast, batch 4,096 (ResNet-18: 1,024):
  ResNet-18 goal >= 5,000 images/s, the paper CNN goal >= 100,000 images/s; each with its
  FLOP-based utilisation = counted FLOPs of one attack step per image x 20 x images/s / peak bf16.
- bf16 vs fp32 robust accuracy of the paper CNN (trained 3 epochs on printed digits 32x32) on a
  fixed subset of 2,000 test images: goal within 0.5 point.

``rt bench gpu --tiny --out DIR`` runs the same code at tiny sizes on any device (the CPU dry run of
``benchmarks/gpu_run.sh``): its numbers are a check that the code runs, named "tiny check: ...",
with no goal, and never a GPU figure.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from benchmarks.common import SEED, trained_model
from benchmarks.harness import Measure, at_least, at_most, median_time
from rt_core import create_model, pgd
from rt_core.engine import DataConfig, ExperimentConfig, Generators, ModelConfig, TrainConfig, crop_flip, load_domain

PEAK_BF16_TFLOPS = {"H200": 989.5, "H100": 989.5, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.2}
GOALS = [("ResNet-18 CIFAR epoch (50k images)", "s", "<= 1", at_most, 1.0),
         ("PGD-20 L2 ResNet-18", "images/s", ">= 5000", at_least, 5000.0),
         ("PGD-20 L2 paper CNN", "images/s", ">= 100000", at_least, 100000.0),
         ("robust accuracy |bf16 - fp32| paper CNN", "points", "<= 0.5", at_most, 0.5)]


# (images, batch, repeats), ResNet-18's width and the paper CNN's training: the GPU sizes and the dry run's tiny
# ones: narrow models and 2 PGD steps, seconds on a CPU, where bf16 autocast without bf16 instructions is emulated
# (minutes at full size); ResNet-18 at width 0.125, as 0.0625 (4-channel channels_last convolutions) crashed
# torch 2.13 on CPU
FULL = {"resnet_width": 1.0, "epoch_images": 50_000, "epoch_batch": 512, "repeats": 3, "warmup": 1, "pgd_steps": 20,
        "cnn": {}, "cnn_data": {}, "cnn_epochs": 3, "resnet_images": 8192, "resnet_batch": 1024,
        "cnn_images": 16_384, "cnn_batch": 4096, "robust_images": 2000}
TINY = {"resnet_width": 0.125, "epoch_images": 16, "epoch_batch": 16, "repeats": 1, "warmup": 0, "pgd_steps": 2,
        "cnn": {"width": 0.25, "hidden": 16}, "cnn_data": {"n_train": 128, "n_val": 0, "n_test": 32}, "cnn_epochs": 1,
        "resnet_images": 4, "resnet_batch": 4, "cnn_images": 16, "cnn_batch": 16, "robust_images": 16}


def unmeasured(reason: str) -> tuple[list[Measure], dict]:
    measures = [Measure(name, None, unit, goal, None) for name, unit, goal, _, _ in GOALS]
    return measures, {"unmeasured": reason}


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def attack_step_flops(model, x: torch.Tensor) -> float:
    """FLOPs of one PGD step (forward + gradient w.r.t. the input) per image, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    delta = torch.zeros_like(x, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        loss = F.cross_entropy(model(x + delta), torch.zeros(len(x), dtype=torch.long, device=x.device))
        torch.autograd.grad(loss, delta)
    return counter.get_total_flops() / len(x)


def resnet_epoch(device: torch.device, n: int = 50_000, batch: int = 512, repeats: int = 3, warmup: int = 1,
                 width: float = 1.0) -> float:
    torch.manual_seed(SEED)
    model = create_model("resnet18", num_classes=10, width=width).to(device).to(memory_format=torch.channels_last)
    x = torch.rand(n, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (n,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    gens = Generators.seeded(SEED, device)

    def epoch():
        model.train()
        for i in range(0, n, batch):
            xb = crop_flip(x[i:i + batch], gens.augment, flip=True).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = F.cross_entropy(model(xb).float(), y[i:i + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return median_time(epoch, repeats=repeats, warmup=warmup)


def pgd_rate(model, x, y, batch: int, bf16: bool = True, repeats: int = 3, warmup: int = 1,
             steps: int = 20) -> tuple[float, float]:
    """(images/s, robust accuracy %) of PGD-``steps`` (20) L2 eps 0.25 over x."""
    model.eval()
    g = torch.Generator(device=x.device.type).manual_seed(SEED)
    correct = torch.zeros((), device=x.device)

    def run():
        correct.zero_()
        for i in range(0, len(x), batch):
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                xa = pgd(model, x[i:i + batch], y[i:i + batch], eps=0.25, steps=steps, generator=g)
                with torch.no_grad():
                    correct.add_((model(xa).argmax(1) == y[i:i + batch]).sum())
    t = median_time(run, repeats=repeats, warmup=warmup)
    return len(x) / t, 100.0 * correct.item() / len(x)


def _trained_cnn(device, data: dict, epochs: int, options: dict):
    cfg = ExperimentConfig(source=DataConfig("printed_digits", options={"size": 32, **data}),
                           model=ModelConfig("cifar_cnn", options=options),
                           train=TrainConfig(epochs=epochs, batch_size=128, lr=0.01, warmup_epochs=1))
    src = load_domain(cfg.source, device)
    return trained_model(cfg, src, epochs=epochs), src


def _tiny_name(name: str, size: dict) -> str:
    name = name.replace("PGD-20", f"PGD-{size['pgd_steps']}").replace("50k images", f"{size['epoch_images']} images")
    return f"tiny check: {name}"


def run(device: torch.device, tiny: bool = False) -> tuple[list[Measure], dict]:
    if device.type != "cuda" and not tiny:
        return unmeasured("no CUDA GPU visible on this machine: every GPU figure is still to be measured "
                          "(run `rt bench gpu --device cuda` on one)")
    size = TINY if tiny else FULL
    times = {"repeats": size["repeats"], "warmup": size["warmup"], "steps": size["pgd_steps"]}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    peak = peak_tflops(device)
    started, part_s = time.perf_counter(), {}

    def lap(name: str) -> None:
        nonlocal started
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        part_s[name] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()

    epoch_s = resnet_epoch(device, size["epoch_images"], size["epoch_batch"], size["repeats"], size["warmup"],
                           size["resnet_width"])
    lap("resnet_epochs")
    cnn, src = _trained_cnn(device, size["cnn_data"], size["cnn_epochs"], size["cnn"])
    lap("paper_cnn_data_and_training")
    x, y = src.x_test[:size["robust_images"]], src.y_test[:size["robust_images"]]
    big = torch.rand(max(size["cnn_images"], size["resnet_images"]), 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (len(big),), device=device)
    resnet = create_model("resnet18", num_classes=10, width=size["resnet_width"]).to(device)
    resnet = resnet.to(memory_format=torch.channels_last).eval()
    n_resnet, n_cnn = size["resnet_images"], size["cnn_images"]
    rate_resnet, _ = pgd_rate(resnet, big[:n_resnet], labels[:n_resnet], size["resnet_batch"], **times)
    rate_cnn, _ = pgd_rate(cnn, big[:n_cnn], labels[:n_cnn], size["cnn_batch"], **times)
    _, rob_bf16 = pgd_rate(cnn, x, y, len(x), bf16=True, **times)
    _, rob_fp32 = pgd_rate(cnn, x, y, len(x), bf16=False, **times)
    lap("pgd")
    values = [epoch_s, rate_resnet, rate_cnn, abs(rob_bf16 - rob_fp32)]
    if tiny:  # a check that the code runs, not a figure: no goal, and named so
        measures = [Measure(_tiny_name(name, size), v, unit) for (name, unit, *_), v in zip(GOALS, values, strict=True)]
    else:
        measures = [fn(name, v, unit, goal) for (name, unit, _, fn, goal), v in zip(GOALS, values, strict=True)]
    for label, model, rate in (("ResNet-18", resnet, rate_resnet), ("paper CNN", cnn, rate_cnn)):
        flops = attack_step_flops(model, big[:8 if tiny else 64]) * size["pgd_steps"] * rate
        util = None if peak is None else 100.0 * flops / (peak * 1e12)
        name = f"PGD-20 {label}: FLOP utilisation of peak bf16"
        measures.append(Measure(_tiny_name(name, size) if tiny else name, util, "%"))
    details = {"device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
               "peak_bf16_tflops": peak, "robust_bf16": rob_bf16, "robust_fp32": rob_fp32,
               "cudnn_benchmark": device.type == "cuda", "channels_last": True, "autocast": "bf16",
               "sizes": dict(size), "part_wall_s": part_s}
    if tiny:
        details["tiny"] = (f"tiny sizes on {device}: a check that the code runs (benchmarks/gpu_run.sh --dry-run), "
                           "not a measurement of anything")
    return measures, details
