"""Item 2, augmentation throughput: our batched, seeded augmentations on float tensors vs
per-sample torchvision transforms on PIL images in a DataLoader (2 worker processes, batch 256,
``ToTensor`` after the transform, worker start-up included as in a real epoch), on the same
images: printed digits at 32x32. Four augmentations at the quickstart's middle strengths:

| ours | torchvision on PIL |
|---|---|
| blur sigma 1 | GaussianBlur(7, sigma=1) |
| rescale factor 2 | Resize(16) then Resize(32) |
| rotation 30 deg | RandomRotation(30, bilinear) |
| translation 0.1 | RandomAffine(0, translate=(0.1, 0.1)) |

Measures: images/s each way per augmentation and the ratio of total times (goal >= 3).
"""

from __future__ import annotations

import torch

from benchmarks.common import SEED
from benchmarks.harness import Measure, at_least, info, median_time
from rt_core import create_augmentation, get_dataset, import_torchvision
from rt_core.engine import to_float

AUGMENTATIONS = {"blur": 1.0, "rescale": 2.0, "rotation": 30.0, "translation": 0.1}
BATCH = 256


def torchvision_transform(name: str, tv):
    t = tv.transforms
    bilinear = t.InterpolationMode.BILINEAR
    return {"blur": t.GaussianBlur(7, sigma=1.0),
            "rescale": t.Compose([t.Resize(16, interpolation=bilinear), t.Resize(32, interpolation=bilinear)]),
            "rotation": t.RandomRotation(30, interpolation=bilinear),
            "translation": t.RandomAffine(0, translate=(0.1, 0.1))}[name]


class PILDataset(torch.utils.data.Dataset):
    def __init__(self, images, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i])


def _ours(name: str, x: torch.Tensor):
    aug = create_augmentation(name, AUGMENTATIONS[name])
    g = torch.Generator(device=x.device.type).manual_seed(SEED)

    def run():
        for i in range(0, len(x), BATCH):
            aug(to_float(x[i:i + BATCH]), g)
    return run


def _torchvision(name: str, pil_images, tv, workers: int):
    loader = torch.utils.data.DataLoader(
        PILDataset(pil_images, tv.transforms.Compose([torchvision_transform(name, tv), tv.transforms.ToTensor()])),
        batch_size=BATCH, num_workers=workers)

    def run():
        for _ in loader:
            pass
    return run


def run(device: torch.device, repeats: int = 3, n: int = 4096, workers: int = 2) -> tuple[list[Measure], dict]:
    tv = import_torchvision()
    from PIL import Image

    x, _ = get_dataset("printed_digits").loader("train", n_train=n, n_val=16, n_test=16, size=32)
    x = (x * 255).round().to(torch.uint8) if x.is_floating_point() else x
    pil = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in x]
    x = x.to(device)
    measures, total_ours, total_tv = [], 0.0, 0.0
    for name in AUGMENTATIONS:
        t_ours = median_time(_ours(name, x), repeats)
        t_tv = median_time(_torchvision(name, pil, tv, workers), repeats, warmup=0)
        total_ours, total_tv = total_ours + t_ours, total_tv + t_tv
        measures += [info(f"{name}: ours", n / t_ours, "images/s"), info(f"{name}: torchvision PIL", n / t_tv,
                                                                            "images/s")]
    measures.insert(0, at_least("augmentation: torchvision PIL / ours time", total_tv / total_ours, "x", 3))
    details = {"images": n, "size": 32, "batch": BATCH, "dataloader_workers": workers, "repeats": repeats,
               "strengths": AUGMENTATIONS}
    return measures, details
