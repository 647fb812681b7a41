"""Augmentations that fail on purpose, for the fault tests. Registered in-process by the tests
(never through an entry point), and shipped to Ray workers as a module reference.

- ``explode``: raises inside the trial (a buggy plugin).
- ``crash_once``: kills its own process (SIGKILL) the first time, i.e. while ``marker`` does not
  exist yet; a retried task finds the marker and trains normally.
- ``crash_always``: kills its own process every time.
"""

import os
import signal
from pathlib import Path

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl


class Explode(Augmentation):
    def apply(self, x, params):
        raise ValueError("explode: this plugin is broken on purpose")


class CrashOnce(Augmentation):
    def __init__(self, strength, marker=""):
        super().__init__(strength)
        self.marker = Path(marker)

    def apply(self, x, params):
        if not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return x


class CrashAlways(Augmentation):
    def apply(self, x, params):
        os.kill(os.getpid(), signal.SIGKILL)


def _spec(name, factory):
    return AugmentationSpec(name=name, factory=factory, strength=Strength("s", identity=0.0, low=0.0, high=1.0,
                                                                          default=0.5),
                            description=f"test fault: {name}", linear=True, differentiable=True, random=False)


@hookimpl
def rt_register_augmentations(register):
    register(_spec("explode", Explode))
    register(_spec("crash_once", CrashOnce))
    register(_spec("crash_always", CrashAlways))
