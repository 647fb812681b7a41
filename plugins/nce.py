"""NCE (Tran, Nguyen & Hassner 2019): negative conditional entropy of the target label given the
source label of each target image, here the source head's predicted class z_i = argmax of its
logits on target image i (the target images carry no source labels).

With the empirical joint P(y, z) = #{i: y_i = y, z_i = z} / n and P(z) = sum_y P(y, z),

    NCE = -H(Y | Z) = sum_{y, z: P(y, z) > 0} P(y, z) log( P(y, z) / P(z) ).

It lies in [-H(Y), 0]: 0 when the source label determines the target label, -H(Y) when it is the
same for every image. Higher: better transfer.
"""

from __future__ import annotations

from rt_core import PredictorSpec, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap


def negative_conditional_entropy(y, z) -> float:
    """-H(Y | Z) of the empirical joint of two non-negative integer label arrays."""
    joint = np.zeros((int(y.max()) + 1, int(z.max()) + 1))
    np.add.at(joint, (y, z), 1.0)
    joint /= len(y)
    pz = np.broadcast_to(joint.sum(axis=0), joint.shape)
    seen = joint > 0
    return float(np.sum(joint[seen] * np.log(joint[seen] / pz[seen])))


def nce(data) -> float:
    """NCE of ``data`` (a PredictorInput with source_logits)."""
    return negative_conditional_entropy(data.labels, np.argmax(data.source_logits, axis=1))


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="nce", function=nce, higher_is_better=True, needs=("source_logits",),
        description="NCE (Tran et al. 2019): -H(target label | source head's predicted class)",
    ))
