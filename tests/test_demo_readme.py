"""The README's first example and the demo learn something, and say so beside references.

The README example is run as written: its Python block is read from README.md.
"""

import math
import re
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from skcosae._diagnostics import check_loss_curve, check_n_steps
from skcosae.metrics import NegativeR2Warning

ROOT = Path(__file__).resolve().parents[1]


def readme_example():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "README.md should hold one Python example"
    return blocks[0]


@pytest.fixture(scope="module")
def readme_run():
    namespace = {}
    with warnings.catch_warnings():
        # The example must not produce the report's warning of a translation worse than
        # the target view's mean.
        warnings.simplefilter("error", NegativeR2Warning)
        exec(compile(readme_example(), "README.md", "exec"), namespace)
    return namespace


def test_readme_example_translates_held_out_rows(readme_run):
    report = readme_run["report"]
    raw = report.matrix("r2", raw=True).to_numpy()
    off_diagonal = raw[~np.eye(2, dtype=bool)]
    assert (off_diagonal > 0).all(), off_diagonal
    assert report.params["n_samples"] == 1000  # scored on the held-out rows


def test_readme_example_beats_its_references(readme_run):
    report, ns = readme_run["report"], readme_run
    summary = report.summary()
    assert summary.loc["CoupledSAE", "S_align"] > summary.loc["independent SAEs", "S_align"] + 0.3
    assert summary.loc["CoupledSAE", "S_trans"] > summary.loc["linear (CCA)", "S_trans"]
    from skcosae.datasets import concept_recovery_score

    ours = concept_recovery_score(ns["Za"], ns["concepts_test"])
    assert ours > concept_recovery_score(ns["random_codes"], ns["concepts_test"]) + 0.2


def test_readme_fit_takes_enough_steps_and_its_loss_has_levelled_off(readme_run):
    sae, train = readme_run["sae"], readme_run["train"]
    steps = sae.n_iter_ * math.ceil(len(train[0]) / sae.batch_size)
    assert check_n_steps(steps, sae.n_iter_, batch_size=sae.batch_size) is None
    assert check_loss_curve(sae.history_) is None


def test_demo_runs_end_to_end_on_small_data(tmp_path, monkeypatch, capsys):
    png = tmp_path / "loss.png"
    monkeypatch.setattr(sys, "argv", ["demo.py", "--n-samples", "1200", "--max-epochs", "3",
                                      "--plot", str(png)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeR2Warning)  # 3 epochs learn little
        runpy.run_path(str(ROOT / "examples" / "demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    # The loss table: one row per shown epoch, the last epoch included.
    table = out.split("per epoch:\n")[1].split("\n\n")[0]
    assert re.search(r"^3\s+\d", table, flags=re.M)
    assert "ground-truth concept recovery" in out and "random dict." in out
    assert "Beside reference estimators" in out
    for name in ("CoupledSAE", "linear (CCA)", "independent SAEs"):
        assert re.search(rf"^{re.escape(name)}\s+\d\.\d{{3}}", out, flags=re.M)
    if "loss curve saved" in out:
        assert png.stat().st_size > 0
