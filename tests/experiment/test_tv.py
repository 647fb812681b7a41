"""torchvision comes through rt_core.import_torchvision, which works on builds whose ops fail."""

import subprocess
import sys

import torch

from rt_core import import_torchvision
from rt_core.experiment import tv as tvmod

SCRIPT = """
import torch
from rt_core import import_torchvision
tv = import_torchvision()
from torchvision.transforms import v2
from torchvision import datasets, models
m = models.resnet18(num_classes=3).eval()
assert m(torch.rand(2, 3, 32, 32)).shape == (2, 3)
assert v2.GaussianBlur(3, sigma=1.0)(torch.rand(3, 8, 8)).shape == (3, 8, 8)
assert hasattr(datasets, "CIFAR10") and hasattr(datasets, "ImageFolder")
print(tv.__version__, tv.extension._has_ops())
"""


def test_transforms_datasets_models_work_in_a_fresh_interpreter():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    version, has_ops = out.stdout.split()
    assert version.split("+")[0].count(".") == 2 and has_ops in {"True", "False"}


def test_plain_import_fails_only_for_the_known_reason():
    """On a build with broken ops, a bare import fails on torchvision::nms; ours does not."""
    out = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        assert "torchvision::nms" in out.stderr and "does not exist" in out.stderr
    tv = import_torchvision()
    assert tv.extension._has_ops() == (out.returncode == 0)


def test_schemas_are_defined_once_and_ops_exist():
    import_torchvision()
    assert tvmod._op_exists("nms") and tvmod._op_exists("qnms")
    assert tvmod._define_missing_schemas() == []


def test_import_is_cached():
    assert import_torchvision() is import_torchvision()
    assert torch.ops.torchvision.nms is not None
