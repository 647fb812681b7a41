"""The experiment engine: config, trials, data, models, training, transfer, attacks, evaluation,
sweeps, executors and packing."""
