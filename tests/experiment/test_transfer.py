"""The linear probe reaches the optimum (checked against scikit-learn), fine-tuning freezes BN."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

import rt_core
from rt_core.experiment.transfer import (
    cross_validated_logits,
    extract_features,
    finetune,
    fit_linear_probe,
    stratified_folds,
)


def _problem(n=300, d=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 1.5 * torch.randn(k, d, generator=g)
    y = torch.arange(n) % k
    z = centres[y] + torch.randn(n, d, generator=g)
    return z, y


def test_probe_matches_sklearn_logistic_regression():
    z, y = _problem()
    l2 = 1e-2
    probe = fit_linear_probe(z, y, 3, l2=l2, max_iter=500)
    zs = ((z - z.mean(0)) / z.std(0)).numpy().astype(np.float64)
    # sklearn minimises 1/2 ||W||^2 + C sum CE; ours mean CE + l2 ||W||^2  =>  C = 1 / (2 l2 n)
    ref = LogisticRegression(C=1 / (2 * l2 * len(y)), tol=1e-10, max_iter=5000).fit(zs, y.numpy())
    ours_obj = F.cross_entropy(probe(z).double(), y).item() + l2 * probe.linear.weight.double().pow(2).sum().item()
    ref_logits = torch.from_numpy(ref.decision_function(zs))
    ref_obj = F.cross_entropy(ref_logits, y).item() + l2 * float((ref.coef_ ** 2).sum())
    assert abs(ours_obj - ref_obj) <= 1e-4 * ref_obj
    assert np.allclose(probe.linear.weight.detach().numpy(), ref.coef_, atol=2e-3)


def test_a_looser_probe_tolerance_stops_at_the_same_optimum_to_that_tolerance():
    z, y = _problem(n=400, d=20, k=4, seed=2)
    l2 = 3e-3

    def objective(probe):
        logits = probe(z).double()
        return F.cross_entropy(logits, y).item() + l2 * probe.linear.weight.double().pow(2).sum().item()
    tight = fit_linear_probe(z, y, 4, l2=l2, max_iter=2000, tol=1e-9)
    loose = fit_linear_probe(z, y, 4, l2=l2, max_iter=2000, tol=1e-6)
    # the probes are float32 after the fit, so compare to a relative 1e-6, not the sign
    assert abs(objective(loose) - objective(tight)) <= 1e-6 * objective(tight)
    assert torch.equal(loose(z).argmax(1), tight(z).argmax(1))


def test_folds_partition_the_images_and_split_every_class_evenly():
    y = torch.tensor([0] * 10 + [1] * 7 + [2] * 13)
    folds = stratified_folds(y, 3, seed=4)
    assert sorted(np.concatenate(folds).tolist()) == list(range(30))
    for c, n in ((0, 10), (1, 7), (2, 13)):
        counts = [int((y[f] == c).sum()) for f in folds]
        assert sum(counts) == n and max(counts) - min(counts) <= 1
    assert all(np.array_equal(a, b) for a, b in zip(folds, stratified_folds(y, 3, seed=4), strict=True))


def test_cross_validated_logits_are_out_of_fold_sklearn_fits():
    """Each fold's logits equal scikit-learn's logistic regression fitted on the other folds with
    the same standardisation and C = 1 / (2 l2 n_train): an independent implementation."""
    z, y = _problem(n=240, d=5, k=3, seed=3)
    l2 = 1e-2
    logits = cross_validated_logits(z, y, 3, folds=4, l2=l2, max_iter=500)
    for test in stratified_folds(y, 4):
        train = np.setdiff1d(np.arange(len(y)), test)
        zs = ((z - z[train].mean(0)) / z[train].std(0)).numpy().astype(np.float64)
        ref = LogisticRegression(C=1 / (2 * l2 * len(train)), tol=1e-10, max_iter=5000).fit(zs[train], y[train].numpy())
        assert np.allclose(logits[test].numpy(), ref.decision_function(zs[test]), atol=5e-3)


def test_cross_validation_scores_unseen_images_not_the_fit():
    """Labels that carry no signal: the probe can fit them, but out of fold it is at chance."""
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(400, 60, generator=g), torch.randint(0, 2, (400,), generator=g)
    fitted = fit_linear_probe(z, y, 2, l2=1e-4, max_iter=500)
    in_sample = (fitted(z).argmax(1) == y).float().mean().item()
    out_of_fold = (cross_validated_logits(z, y, 2, folds=5, l2=1e-4, max_iter=500).argmax(1) == y).float().mean().item()
    assert in_sample > 0.6 and abs(out_of_fold - 0.5) < 0.1


def test_probe_on_separable_data_is_perfect():
    z, y = _problem(seed=1)
    z = z + 10 * F.one_hot(y, 6)[:, :6].float()
    probe = fit_linear_probe(z, y, 3, l2=1e-4)
    assert (probe(z).argmax(1) == y).all()


def test_features_are_extracted_in_eval_mode_without_grad():
    model = rt_core.create_model("cifar_cnn", num_classes=4, width=0.125, hidden=8, image_size=8)
    feats = extract_features(model, torch.rand(5, 3, 8, 8), batch_size=2)
    assert feats.shape == (5, 8) and not feats.requires_grad and not model.training


def test_finetune_trains_all_layers_with_batchnorm_statistics_frozen():
    from rt_core.experiment.config import TransferConfig

    torch.manual_seed(0)
    model = rt_core.create_model("resnet18", num_classes=5, width=0.0625)
    stats = [m.running_mean.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    x, y = torch.rand(16, 3, 16, 16), torch.arange(16) % 3
    cfg = TransferConfig(mode="finetune", epochs=2, lr=0.05, batch_size=8)
    tuned = finetune(model, x, y, 3, cfg, torch.Generator().manual_seed(0))
    after = [m.running_mean for m in tuned.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(stats, after, strict=True))
    assert tuned.head.out_features == 3
    first = next(tuned.features.parameters())
    assert not torch.equal(first, next(model.features.parameters()))


def test_probe_objective_gradient_matches_autograd():
    from rt_core.experiment.transfer import softmax_objective

    z, y = _problem(n=50, d=4, k=3)
    theta = torch.randn(3 * 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    loss, grad = softmax_objective(z.double(), y, 3, l2=0.1)(theta.numpy())
    t = theta.clone().requires_grad_(True)
    w, b = t.view(3, 5)[:, :4], t.view(3, 5)[:, 4]
    ref = F.cross_entropy(z.double() @ w.T + b, y) + 0.1 * w.pow(2).sum()
    ref.backward()
    assert abs(loss - ref.item()) < 1e-12
    assert np.allclose(grad, t.grad.numpy(), atol=1e-12)


def test_few_shot_draws_take_k_of_each_class_the_same_way_every_time():
    from rt_core.experiment.transfer import few_shot_draws

    y = torch.arange(60) % 3
    draws = few_shot_draws(y, shots=4, draws=5)
    assert len(draws) == 5
    for d in draws:
        assert torch.bincount(y[torch.from_numpy(d)], minlength=3).tolist() == [4, 4, 4]
        assert len(set(d.tolist())) == 12
    again = few_shot_draws(y, shots=4, draws=5)
    assert all((a == b).all() for a, b in zip(draws, again, strict=True))
    assert len({tuple(d) for d in draws}) > 1  # the draws differ from each other


def test_few_shot_scores_match_sklearn_fits_on_each_draw():
    """Each draw's probe is scikit-learn's logistic regression (same objective, C = 1 / (2 l2 n)) on the
    draw's standardised features; the mean accuracy over draws agrees up to one test image per draw."""
    from rt_core.experiment.transfer import few_shot_draws, few_shot_scores

    z, y = _problem(n=240, d=6, k=3, seed=3)
    l2, shots, draws = 1e-2, 5, 4
    acc, loss = few_shot_scores(z, y, 3, shots, draws, l2, max_iter=500, tol=1e-10)
    accs = []
    for train_idx in few_shot_draws(y, shots, draws):
        train = torch.zeros(len(y), dtype=torch.bool)
        train[torch.from_numpy(train_idx)] = True
        mean, std = z[train].mean(0), z[train].std(0)
        fit = LogisticRegression(C=1 / (2 * l2 * int(train.sum())), tol=1e-10, max_iter=5000)
        fit.fit(((z[train] - mean) / std).numpy(), y[train].numpy())
        pred = fit.predict(((z[~train] - mean) / std).numpy())
        accs.append(100.0 * float((pred == y[~train].numpy()).mean()))
    assert abs(acc - float(np.mean(accs))) <= 100.0 / (len(y) - 3 * shots) + 1e-9
    assert loss > 0


def test_few_shot_scores_separate_signal_from_noise():
    from rt_core.experiment.transfer import few_shot_scores

    y = torch.arange(300) % 10
    g = torch.Generator().manual_seed(0)
    # class centres 6 apart per coordinate: the Bayes error is about 9 P(Z > 6 / sqrt 2), i.e. 1e-4
    signal = 6.0 * F.one_hot(y, 10).float() + torch.randn(300, 10, generator=g)
    noise = torch.randn(300, 10, generator=g)
    assert few_shot_scores(signal, y, 10, 5, 3, 1e-3)[0] > 95.0
    assert few_shot_scores(noise, y, 10, 5, 3, 1e-3)[0] < 25.0  # chance is 10%
