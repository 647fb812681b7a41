"""rt_core: the host of the rt toolkit (hook specs, plugin manager, registries, engine, CLI).

Public API: plugin authors and the other packages import from here only.
"""

__version__ = "0.1.0"

from rt_core.errors import PluginError, RtError  # noqa: E402
from rt_core.experiment.attacks import pgd, project  # noqa: E402
from rt_core.experiment.evaluation import robust_accuracy  # noqa: E402
from rt_core.experiment.models import Normalize, SplitModel, count_parameters  # noqa: E402
from rt_core.experiment.transfer import extract_features, fit_linear_probe  # noqa: E402
from rt_core.experiment.tv import import_torchvision  # noqa: E402
from rt_core.host.augmentation import Augmentation, Params, uniform  # noqa: E402
from rt_core.host.hookspecs import hookimpl, hookspec  # noqa: E402
from rt_core.host.lookup import (  # noqa: E402
    SpecList,
    create_augmentation,
    create_model,
    create_regularizer,
    get_augmentation,
    get_dataset,
    get_model,
    get_regularizer,
    identity_strength,
    list_augmentations,
    list_datasets,
    list_models,
    list_regularizers,
)
from rt_core.host.manager import (  # noqa: E402
    get_plugin_manager,
    notify_trial_finished,
    plugin_table,
    register_plugin,
    registries,
    report_sections,
    unregister_plugin,
    write_report,
)
from rt_core.host.manager import reset as reset_plugins  # noqa: E402
from rt_core.host.registry import (  # noqa: E402
    AugmentationSpec,
    Bound,
    DatasetSpec,
    ModelSpec,
    RegularizerSpec,
    Strength,
)
from rt_core.host.regularizer import Regularizer  # noqa: E402
from rt_core.host.testing import check_augmentation, check_regularizer  # noqa: E402

__all__ = [
    "Augmentation", "AugmentationSpec", "Bound", "DatasetSpec", "ModelSpec", "Normalize",
    "Params", "PluginError", "Regularizer", "RegularizerSpec", "RtError", "SpecList", "SplitModel",
    "Strength", "check_augmentation", "check_regularizer",
    "count_parameters", "create_augmentation", "create_model", "create_regularizer",
    "extract_features", "fit_linear_probe", "robust_accuracy",
    "get_augmentation", "get_dataset", "get_model", "get_plugin_manager", "get_regularizer",
    "hookimpl", "hookspec", "identity_strength", "import_torchvision", "list_augmentations", "list_datasets",
    "list_models", "list_regularizers", "notify_trial_finished", "pgd", "plugin_table", "project", "register_plugin",
    "registries", "report_sections", "reset_plugins", "unregister_plugin", "write_report", "uniform", "__version__",
]
