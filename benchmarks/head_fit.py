"""Item 1, head fitting: our linear probe (``rt_core.experiment.transfer.fit_linear_probe``: features
extracted once, standardised, full-batch L-BFGS-B on the analytic gradient) vs the common
practice of SGD epochs through the frozen network, on the same target data.

The baseline is the released [XU22] target protocol (docs/science.md, section 4): a fresh linear head,
SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128, 40 epochs with LR x0.1 at 20 and 30, the
images passed through the frozen network for every batch; its time is 40 x the median epoch time
of one run (each epoch a repeat), the probe's the median of ``repeats`` fits. The probe runs at
most the quickstart's ``probe_iters`` L-BFGS-B iterations. Two scales: the quickstart model
(16x16, width 0.5, trained for 4 epochs) and the paper's CIFAR_CNN (32x32, width 1, 1.18M
parameters; Kaiming-initialised, not trained, to keep the benchmark short: its features are
random, the timing is the paper model's). Measures per scale: time ratio baseline/probe (goal
>= 20) and both target test accuracies (goal: SGD accuracy minus probe accuracy <= 0.5 point).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import torch
import torch.nn.functional as F

from benchmarks.common import SEED, domains, quickstart, trained_model
from benchmarks.harness import Measure, at_least, info, median_time
from rt_core import create_model, extract_features, fit_linear_probe
from rt_core.engine import accuracy_and_loss, load_domain


def sgd_through_frozen(model, x, y, num_classes: int, epochs: int = 40, batch: int = 128, lr: float = 0.01,
                       seed: int = SEED) -> tuple[torch.nn.Linear, list[float]]:
    """A fresh linear head trained by SGD on model.features(x), recomputed for every batch;
    returns the head and the wall time of each epoch."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(model.feature_dim, num_classes).to(x.device)
    opt = torch.optim.SGD(head.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[epochs // 2, 3 * epochs // 4], gamma=0.1)
    g = torch.Generator(device=x.device.type).manual_seed(seed)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=g, device=x.device)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            with torch.no_grad():
                z = model.features(x[idx])
            loss = F.cross_entropy(head(z), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
    return head, times


def compare(model, tgt, l2: float, iters: int, repeats: int, label: str) -> list[Measure]:
    """Time and accuracy of probe vs SGD-through-frozen for one model on one target domain."""
    model.eval()

    def probe():
        return fit_linear_probe(extract_features(model, tgt.x_train), tgt.y_train, tgt.num_classes, l2, iters)

    t_probe = median_time(probe, repeats)
    sgd_head, epoch_times = sgd_through_frozen(model, tgt.x_train, tgt.y_train, tgt.num_classes)
    t_sgd = len(epoch_times) * statistics.median(epoch_times)  # each epoch is a repeat
    heads, z_test = (probe(), sgd_head), extract_features(model, tgt.x_test)
    with torch.no_grad():
        acc_probe, acc_sgd = (accuracy_and_loss(h(z_test), tgt.y_test)[0] for h in heads)
    gap = acc_sgd - acc_probe
    return [at_least(f"{label}: SGD-through-frozen / probe time", t_sgd / t_probe, "x", 20),
            info(f"{label}: probe time", t_probe, "s"), info(f"{label}: SGD-through-frozen time", t_sgd, "s"),
            info(f"{label}: probe target accuracy", acc_probe, "%"),
            info(f"{label}: SGD target accuracy", acc_sgd, "%"),
            Measure(f"{label}: SGD minus probe accuracy", gap, "points", "<= 0.5", gap <= 0.5)]


def run(device: torch.device, repeats: int = 3) -> tuple[list[Measure], dict]:
    cfg = quickstart()
    src, tgt = domains(cfg, device)
    l2, iters = cfg.transfer.probe_l2, cfg.transfer.probe_iters
    measures = compare(trained_model(cfg, src), tgt, l2, iters, repeats, "quickstart CNN")
    torch.manual_seed(SEED)
    paper = create_model("cifar_cnn", num_classes=10).to(device)
    tgt32 = load_domain(replace(cfg.target, options={**cfg.target.options, "size": 32}), device)
    measures += compare(paper, tgt32, l2, iters, repeats, "paper CIFAR_CNN 32x32")
    details = {"target": cfg.target.dataset, "target_train_images": len(tgt.x_train), "sgd": "40 epochs, batch 128, "
               "lr 0.01 x0.1 at 20 and 30, momentum 0.9, wd 5e-4", "probe_iters": iters, "probe_l2": l2,
               "repeats": repeats, "quickstart_model": cfg.model.options, "source_epochs": 4}
    return measures, details
