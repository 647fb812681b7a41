"""LEEP (Nguyen, Hassner, Seeger & Archambeau 2020): the log expected empirical prediction of a
classifier that reads the target label off the source head's prediction.

With theta_i = softmax(source logits of target image i) over the k source classes, the empirical
joint of target label y and source class z is P(y, z) = 1/n sum_{i: y_i = y} theta_iz, its marginal
P(z) = sum_y P(y, z), and P(y | z) = P(y, z) / P(z). Then

    LEEP = 1/n sum_i log( sum_z P(y_i | z) theta_iz ).

It is at most 0, reached when the source prediction determines the target label; it is -H(Y) (the
empirical label entropy) when theta is the same for every image. Higher: better transfer.
"""

from __future__ import annotations

from rt_core import PredictorSpec, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap
special = lazy("scipy.special")


def empirical_joint(theta, labels, num_classes: int):
    """(num_classes, k) P(y, z) = 1/n sum_{i: y_i = y} theta_iz."""
    joint = np.zeros((num_classes, theta.shape[1]))
    np.add.at(joint, labels, theta)
    return joint / len(labels)


def leep(data) -> float:
    """LEEP of ``data`` (a PredictorInput with source_logits)."""
    theta = special.softmax(data.source_logits, axis=1)
    joint = empirical_joint(theta, data.labels, data.num_classes)
    pz = joint.sum(axis=0)
    # a source class no image puts mass on (softmax underflow) has theta_iz = 0 for every i: it adds nothing
    conditional = np.divide(joint, pz, out=np.zeros_like(joint), where=pz > 0)
    expected = np.einsum("iz,iz->i", theta, conditional[data.labels])
    return float(np.mean(np.log(expected)))


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="leep", function=leep, higher_is_better=True, needs=("source_logits",),
        description="LEEP (Nguyen et al. 2020): log expected empirical prediction of the source head's "
                    "softmax through P(target label | source class)",
    ))
