"""The GPU hot path, measured only where a CUDA GPU is visible; elsewhere every figure is written
as unmeasured (value null) with the reason, and the CPU benchmarks stand on their own.

- ResNet-18 (CIFAR variant) plain training epoch: 50,000 32x32 images resident on the GPU, batch
  512, random crop + flip batched on the device, bf16 autocast, channels_last; goal <= 1.0 s.
- PGD-20 L2 (eps 0.25) evaluation throughput, bf16 autocast, batch 4,096 (ResNet-18: 1,024):
  ResNet-18 goal >= 5,000 images/s, the paper CNN goal >= 100,000 images/s; each with its
  FLOP-based utilisation = counted FLOPs of one attack step per image x 20 x images/s / peak bf16.
- bf16 vs fp32 robust accuracy of the paper CNN (trained 3 epochs on printed digits 32x32) on a
  fixed subset of 2,000 test images: goal within 0.5 point.
"""

from __future__ import annotations

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


def unmeasured(reason: str) -> tuple[list[Measure], dict]:
    measures = [Measure(name, None, unit, goal, None) for name, unit, goal, _, _ in GOALS]
    return measures, {"unmeasured": reason}


def peak_tflops(device: torch.device) -> float | None:
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


def resnet_epoch(device: torch.device, n: int = 50_000, batch: int = 512) -> float:
    torch.manual_seed(SEED)
    model = create_model("resnet18", num_classes=10).to(device).to(memory_format=torch.channels_last)
    x = torch.rand(n, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (n,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    gens = Generators.seeded(SEED, device)

    def epoch():
        model.train()
        for i in range(0, n, batch):
            xb = crop_flip(x[i:i + batch], gens.augment, flip=True).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.cross_entropy(model(xb).float(), y[i:i + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return median_time(epoch, repeats=3, warmup=1)


def pgd_rate(model, x, y, batch: int, bf16: bool = True) -> tuple[float, float]:
    """(images/s, robust accuracy %) of PGD-20 L2 eps 0.25 over x."""
    model.eval()
    g = torch.Generator(device=x.device.type).manual_seed(SEED)
    correct = torch.zeros((), device=x.device)

    def run():
        correct.zero_()
        for i in range(0, len(x), batch):
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                xa = pgd(model, x[i:i + batch], y[i:i + batch], eps=0.25, steps=20, generator=g)
                with torch.no_grad():
                    correct.add_((model(xa).argmax(1) == y[i:i + batch]).sum())
    t = median_time(run, repeats=3, warmup=1)
    return len(x) / t, 100.0 * correct.item() / len(x)


def _trained_cnn(device):
    cfg = ExperimentConfig(source=DataConfig("printed_digits", options={"size": 32}), model=ModelConfig("cifar_cnn"),
                           train=TrainConfig(epochs=3, batch_size=128, lr=0.01, warmup_epochs=1))
    src = load_domain(cfg.source, device)
    return trained_model(cfg, src, epochs=3), src


def run(device: torch.device, repeats: int = 3) -> tuple[list[Measure], dict]:
    if device.type != "cuda":
        return unmeasured("no CUDA GPU visible on this machine: every GPU figure is still to be measured "
                          "(run `rt bench gpu --device cuda` on one)")
    torch.backends.cudnn.benchmark = True
    peak = peak_tflops(device)
    epoch_s = resnet_epoch(device)
    cnn, src = _trained_cnn(device)
    x, y = src.x_test[:2000], src.y_test[:2000]
    big = torch.rand(16_384, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (len(big),), device=device)
    resnet = create_model("resnet18", num_classes=10).to(device).to(memory_format=torch.channels_last).eval()
    rate_resnet, _ = pgd_rate(resnet, big[:8192], labels[:8192], 1024)
    rate_cnn, _ = pgd_rate(cnn, big, labels, 4096)
    _, rob_bf16 = pgd_rate(cnn, x, y, 2000, bf16=True)
    _, rob_fp32 = pgd_rate(cnn, x, y, 2000, bf16=False)
    values = [epoch_s, rate_resnet, rate_cnn, abs(rob_bf16 - rob_fp32)]
    measures = [fn(name, v, unit, goal) for (name, unit, _, fn, goal), v in zip(GOALS, values, strict=True)]
    for label, model, rate in (("ResNet-18", resnet, rate_resnet), ("paper CNN", cnn, rate_cnn)):
        flops = attack_step_flops(model, big[:64]) * 20 * rate
        util = None if peak is None else 100.0 * flops / (peak * 1e12)
        measures.append(Measure(f"PGD-20 {label}: FLOP utilisation of peak bf16", util, "%"))
    details = {"gpu": torch.cuda.get_device_name(device), "peak_bf16_tflops": peak, "robust_bf16": rob_bf16,
               "robust_fp32": rob_fp32, "cudnn_benchmark": True, "channels_last": True, "autocast": "bf16"}
    return measures, details
