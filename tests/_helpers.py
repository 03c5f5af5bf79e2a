import numpy as np


def r2(X, X_hat):
    return 1.0 - ((X - X_hat) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()


def code_agreement(Za, Zb):
    """Mean correlation of the same concept's activations across two views (0 if constant)."""
    values = []
    for c in range(Za.shape[1]):
        a, b = Za[:, c], Zb[:, c]
        if not (a.any() or b.any()):
            continue
        if a.std() == 0 or b.std() == 0:
            values.append(0.0)
        else:
            values.append(np.corrcoef(a, b)[0, 1])
    return float(np.mean(values)) if values else 0.0
