"""The report explains itself: reading guide, marked cells with their raw values, baselines."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skcosae.datasets import make_platonic
from skcosae.linear import CCA, MultiViewPCA
from skcosae.metrics import (
    AGGREGATES,
    InterVenchAReport,
    NegativeR2Warning,
    intervencha_report,
    make_intervencha_scorer,
)
from skcosae.metrics._protocol import derive_seed, probe_splits
from skcosae.metrics._report import AGGREGATE_GUIDE


@pytest.fixture(scope="module")
def data():
    return make_platonic(n_samples=600, n_views=2, n_classes=4, random_state=0)[:2]


@pytest.fixture(scope="module")
def cca(data):
    # Fits a linear translation: positive translation R^2 on these views.
    return CCA(n_components=8, reg=0.1).fit(data[0])


@pytest.fixture(scope="module")
def pca(data):
    # Uncoupled per-view PCA: its codes do not translate (R^2 below 0 off the diagonal).
    return MultiViewPCA(n_components=8).fit(data[0])


@pytest.fixture(scope="module")
def pca_report(data, pca):
    with pytest.warns(NegativeR2Warning):
        return intervencha_report(pca, *data)


def test_text_opens_with_the_aggregates_and_a_reading_guide(data, cca):
    report = intervencha_report(cca, *data)
    lines = repr(report).splitlines()
    assert lines[0].startswith("InterVenchA report of CCA: 2 views (0, 1) on 600 labelled rows")
    assert lines[1].split() == [f"{k}={v:.3f}" for k, v in report.aggregates.items()]
    text = "\n".join(lines)
    assert "every score is in [0, 1], 1 best" in text
    for name in AGGREGATES:
        assert f"  {name}" in text and AGGREGATE_GUIDE[name] in text
    # Without baselines the guide says how to get something to compare with.
    assert "baselines=" in text
    # Every metric's matrix comes with one line saying what it measures.
    for metric in report.metrics:
        assert f"\n{metric}: " in text


def test_clipped_and_gated_cells_are_marked_with_their_raw_values(data, pca, pca_report):
    frame = pca_report.to_frame()
    assert list(frame.columns) == ["metric", "source", "target", "value", "raw", "mark"]
    assert set(frame.mark) == {"", "clipped", "gated"}
    assert frame.value.between(0, 1).all()
    plain = frame[frame.mark == ""]
    np.testing.assert_array_equal(plain.value, plain.raw)

    # Clipped: the raw value is outside [0, 1], the value its clip. The raw translation
    # R^2 is the one computed independently on the report's probe-test rows.
    clipped = frame[frame.mark == "clipped"]
    assert ((clipped.raw < 0) | (clipped.raw > 1)).all()
    np.testing.assert_array_equal(clipped.value, clipped.raw.clip(0, 1))
    Xs, y = data
    _, test = probe_splits(y, 0.3, None, derive_seed(0))[0]
    X0, X1 = Xs[0][test], Xs[1][test]
    expected = 1 - ((X1 - pca.translate(X0, source=0, target=1)) ** 2).sum() / (
        (X1 - X1.mean(0)) ** 2).sum()
    assert expected < 0
    assert pca_report.matrix("r2", raw=True).loc[0, 1] == pytest.approx(expected)
    assert pca_report.matrix("r2").loc[0, 1] == 0.0

    # Gated: set to 0 because sparse probing of the pair is below the threshold; the raw
    # value is the score the metric gets once the gate is off.
    gated = frame[frame.mark == "gated"]
    assert (gated.value == 0).all() and (gated.raw > 0).any()
    probing = frame.set_index(["metric", "source", "target"]).value
    for metric, source, target in zip(gated.metric, gated.source, gated.target):
        space = metric.rsplit("_", 1)[1]
        assert probing[(f"sparse_probing_{space}", source, target)] < 0.1
    with pytest.warns(NegativeR2Warning):
        ungated = intervencha_report(pca, *data, ablation_threshold=0.0).to_frame()
    ungated = ungated.set_index(["metric", "source", "target"]).value
    for metric, source, target, raw in zip(gated.metric, gated.source, gated.target,
                                           gated.raw):
        assert ungated[(metric, source, target)] == pytest.approx(raw)

    # The text marks the same cells and lists their raw values.
    text = repr(pca_report)
    assert f"0 -> 1: {expected:.3f}" in text
    assert "0.000*" in text and "0.000g" in text


def test_negative_translation_warns_and_a_good_one_does_not(data, cca, pca):
    with pytest.warns(NegativeR2Warning, match=r"MultiViewPCA: Translation R\^2 is below 0 "
                                               r"for 0 -> 1 \(-\d\.\d+\), 1 -> 0"):
        intervencha_report(pca, *data, metrics=["r2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeR2Warning)
        report = intervencha_report(cca, *data, metrics=["r2"])
    assert (report.matrix("r2", raw=True).to_numpy() > 0).all()


def test_baselines_are_scored_on_the_same_rows_split_and_tasks(data, cca, pca, pca_report):
    # A baseline with negative translation R^2 is a reference, not a problem: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeR2Warning)
        report = intervencha_report(cca, *data, baselines={"per-view PCA": pca})
    reference = report.baselines["per-view PCA"]
    pd.testing.assert_frame_equal(reference.frame, pca_report.frame)
    assert reference.params["tasks"] == pca_report.params["tasks"]
    summary = report.summary()
    assert list(summary.index) == ["CCA", "per-view PCA"]
    assert list(summary.columns) == list(AGGREGATES)
    assert summary.loc["per-view PCA", "S_trans"] == pytest.approx(pca_report["S_trans"])
    assert summary.loc["CCA", "S_trans"] > summary.loc["per-view PCA", "S_trans"]
    text = repr(report)
    assert "Beside reference estimators" in text and "per-view PCA" in text
    # Beside each matrix: the means of the estimator and of each reference.
    off = pca_report.frame.query("metric == 'r2' and source != target").value.mean()
    assert f"per-view PCA {pca_report.matrix('r2').to_numpy().diagonal().mean():.3f} / " \
           f"{off:.3f}" in text


def test_baselines_are_checked_and_named_in_errors(data, cca):
    Xs, y = data
    with pytest.raises(ValueError, match=r"entry 'linear' is a str without"):
        intervencha_report(cca, Xs, y, baselines={"linear": "cca"})
    narrow = CCA(n_components=4, reg=0.1).fit([X[:, :32] for X in Xs])
    with pytest.raises(ValueError, match=r"baselines\['narrow'\]"):
        intervencha_report(cca, Xs, y, baselines={"narrow": narrow})
    with pytest.raises(ValueError, match="baselines"):
        intervencha_report(cca, Xs, y, baselines=[cca])
    with pytest.raises(ValueError, match="does not take baselines"):
        make_intervencha_scorer("S_align", baselines={"x": cca})


def test_a_frame_without_marks_is_read_as_measured():
    frame = pd.DataFrame({"metric": ["r2"] * 4, "source": [0, 0, 1, 1],
                          "target": [0, 1, 0, 1], "value": [0.9, 0.5, 0.7, 0.8]})
    report = InterVenchAReport(frame, view_names=[0, 1])
    assert (report.to_frame().mark == "").all()
    np.testing.assert_array_equal(report.to_frame().raw, frame.value)
    assert "*" not in repr(report).split("r2: ")[1]


def test_plot_has_a_title_with_the_aggregates_and_hatches_marked_cells(data, cca, pca_report):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    report = InterVenchAReport(pca_report.frame, pca_report.view_names,
                               params=pca_report.params, estimator_name="MultiViewPCA",
                               baselines={"linear": intervencha_report(cca, *data)})
    fig = report.plot()
    title = fig._suptitle.get_text()
    assert "MultiViewPCA" in title and f"S_align={report['S_align']:.2f}" in title
    assert "linear" in title
    for ax, metric in zip(fig.axes, report.metrics):
        hatched = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
        marks = report.frame[report.frame.metric == metric].mark
        assert len(hatched) == (marks != "").sum()
        texts = [t.get_text() for t in ax.texts]
        raw = report.matrix(metric, raw=True)
        if metric == "r2":
            assert f"0.00\n({raw.loc[0, 1]:.2f})" in texts
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {
        "clipped to [0, 1] (measured value in brackets)",
        "set to 0 by the ablation gate (ungated value in brackets)"}
    plt.close(fig)
