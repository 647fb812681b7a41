"""Datasets: embedded (no download) ``printed_digits`` (synthetic, the default source) and
``handwritten_digits`` (scikit-learn's real scans, the default target); real, from a root the user
gives: ``cifar10``, ``cifar100``, ``svhn``, ``stl10``, ``image_folder``. They are registered through
``rt_register_datasets`` like any plugin's, by ``rt_core.experiment.builtin``.
Every loader returns float32 images in [0,1] (N, C, H, W) and int64 labels, for split
``train``, ``val`` or ``test``.
"""
