"""A tiny experiment config shared by the sweep tests: 8x8 images, one epoch, under a second a trial."""

TINY = """
name = "tiny"
seeds = [0, 1]
[source]
dataset = "printed_digits"
options = { n_train = 120, n_val = 20, n_test = 60, size = 8, distractors = 0.0 }
[target]
dataset = "handwritten_digits"
options = { size = 8 }
[model]
name = "cifar_cnn"
options = { width = 0.25, hidden = 8, image_size = 8 }
[train]
epochs = 2
batch_size = 32
lr = 0.01
weight_decay = 0.0
[transfer]
probe_iters = 30
[attack]
steps = 2
n_eval = 20
[[sweep]]
plugin = "blur"
strengths = [1.0]
[[sweep]]
plugin = "weight_decay"
strengths = [1e-3]
"""


# `rt run` on TINY exits 1: its 8x8 models stay at chance in 2 epochs (acc_src ~10%), so every vanilla
# is flagged as not learned (one warning line); the trials themselves all finish
TINY_RUN_EXIT = 1


def write_tiny(path, extra: str = "") -> str:
    path.write_text(TINY + extra)
    return str(path)


def crash_sweep(path):
    """(config, marker) of a one-seed tiny sweep with tests.helpers.faulty_plugins' crash_once (its worker dies
    the first time, leaving ``marker``) and crash_always (its worker dies every time)."""
    import tomllib

    from rt_core.experiment.loading import from_dict

    marker = path / "crashed-once"
    extra = (f'[[sweep]]\nplugin = "crash_once"\nstrengths = [0.5]\noptions = {{ marker = "{marker}" }}\n'
             '[[sweep]]\nplugin = "crash_always"\nstrengths = [0.5]\n')
    data = tomllib.loads(TINY + extra)
    return from_dict({**data, "seeds": [0]}), marker
