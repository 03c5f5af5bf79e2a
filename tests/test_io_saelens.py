"""SAELens folders: export of CoupledSAE, import of ours and other tools' SAEs, bad input."""

import json

import numpy as np
import pytest
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.exceptions import NotFittedError

from skcosae import CoupledSAE
from skcosae.datasets import make_platonic
from skcosae.io import SAELensEstimator, load_saelens, save_saelens
from skcosae.linear import CCA
from skcosae.metrics import intervencha_report

NAMES = ["vit", "dino"]


@pytest.fixture(scope="module")
def data():
    Xs, y, _ = make_platonic(n_samples=1200, view_dims=[20, 28], n_concepts=16, n_classes=4,
                             view_names=NAMES, random_state=0)
    return Xs, y


@pytest.fixture(scope="module")
def sae(data):
    Xs, _ = data
    # Scaled and shifted views: the export must fold each view's standardisation in.
    Xs = [Xs[0] * 40.0 + 3.0, Xs[1] * 0.02 - 1.0]
    return CoupledSAE(n_concepts=48, k=4, max_epochs=3, view_names=NAMES,
                      random_state=0).fit(Xs), Xs


def _pre_activations(sae, x, i):
    """The model's own pre-activations (standardised input), for margins to the threshold."""
    import torch

    model, unit = sae.model_, sae.model_.units[i]
    with torch.no_grad():
        xn = model._normalise(torch.as_tensor(x, dtype=torch.float32), i)
        return ((xn - unit.b_dec[0]) @ unit.W_enc[0].T + unit.b_enc).numpy(), float(unit.threshold)


def _assert_same_codes(sae, Xs, ours, theirs):
    """Equal within float32 tolerance; activity may differ only at pre-activations that sit
    on the threshold (float32 rounding of the folded weights decides those)."""
    for i, (x, a, b) in enumerate(zip(Xs, ours, theirs)):
        pre, threshold = _pre_activations(sae, x, i)
        differs = (a != 0) != (b != 0)
        assert np.all(np.abs(pre[differs] - threshold) < 1e-4)
        assert differs.mean() < 1e-3
        scale = np.abs(a).max()
        np.testing.assert_allclose(np.where(differs, 0, a), np.where(differs, 0, b),
                                   atol=1e-5 * scale, rtol=1e-4)


def test_round_trip_reproduces_codes_decodes_and_translations(sae, tmp_path):
    model, Xs = sae
    folders = save_saelens(model, tmp_path)
    assert folders == [str(tmp_path / "vit"), str(tmp_path / "dino")]
    loaded = load_saelens(folders)
    assert loaded.view_names_ == NAMES and loaded.view_sizes_ == [20, 28]
    assert loaded.n_concepts_ == 48 and loaded.architectures_ == ["jumprelu", "jumprelu"]
    ours = model.transform(Xs)
    theirs = loaded.transform(Xs)
    assert sum(int((z != 0).sum()) for z in ours) > 0
    _assert_same_codes(model, Xs, ours, theirs)
    for i, x in enumerate(Xs):
        scale = np.abs(x).max()
        np.testing.assert_allclose(loaded.inverse_transform(ours[i], view=i),
                                   model.inverse_transform(ours[i], view=i),
                                   atol=1e-5 * scale, rtol=1e-4)
        np.testing.assert_allclose(loaded.dictionaries_[i] / model.model_.input_scale[i].item(),
                                   model.dictionaries_[i], atol=1e-6)
    translated = loaded.translate(Xs[0], source="vit", target="dino")
    np.testing.assert_allclose(translated, model.translate(Xs[0], source=0, target=1),
                               atol=1e-3 * np.abs(Xs[1]).max())
    # Saving what was loaded writes the same weights again.
    again = load_saelens(save_saelens(loaded, tmp_path / "again"))
    for a, b in zip(loaded.views_, again.views_):
        for key in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold"):
            np.testing.assert_array_equal(a[key], b[key])


def test_files_alone_reproduce_the_codes_with_numpy(sae, tmp_path):
    model, Xs = sae
    save_saelens(model, tmp_path)
    codes = []
    for name, x in zip(NAMES, Xs):
        cfg = json.loads((tmp_path / name / "cfg.json").read_text())
        w = load_file(str(tmp_path / name / "sae_weights.safetensors"))
        assert cfg["architecture"] == "jumprelu" and cfg["apply_b_dec_to_input"] is True
        assert cfg["normalize_activations"] == "none"
        assert (cfg["d_in"], cfg["d_sae"]) == (x.shape[1], 48)
        assert cfg["metadata"]["model_name"] == "skcosae.CoupledSAE"
        assert cfg["metadata"]["skcosae_view"] == name
        assert {k: v.shape for k, v in w.items()} == {
            "W_enc": (x.shape[1], 48), "b_enc": (48,), "W_dec": (48, x.shape[1]),
            "b_dec": (x.shape[1],), "threshold": (48,)}
        assert all(v.dtype == np.float32 for v in w.values())
        pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
        codes.append(np.maximum(pre, 0) * (pre > w["threshold"]))
    _assert_same_codes(model, Xs, model.transform(Xs), codes)


def test_unset_threshold_exports_as_topk_with_the_rows_top_k(data, tmp_path):
    Xs, _ = data
    model = CoupledSAE(n_concepts=32, k=3, max_epochs=1, random_state=0).fit(Xs)
    for unit in model.model_.units:
        unit.threshold.fill_(float("nan"))
    loaded = load_saelens(save_saelens(model, tmp_path))
    assert loaded.architectures_ == ["topk", "topk"]
    assert loaded.configs_[0]["k"] == 3
    for ours, theirs in zip(model.transform(Xs), loaded.transform(Xs)):
        assert np.all((theirs != 0).sum(1) <= 3)
        np.testing.assert_allclose(theirs, ours, atol=1e-5 * np.abs(ours).max())


def test_standalone_crosscoder_exports_and_shared_one_is_refused(data, tmp_path):
    Xs, _ = data
    model = CoupledSAE(n_concepts=32, k=3, max_epochs=2, architecture="crosscoder",
                       losses=["rec"], crosscoder_mode="shared", random_state=0).fit(Xs)
    with pytest.raises(ValueError, match="crosscoder_mode='standalone'"):
        save_saelens(model, tmp_path)
    model.set_params(crosscoder_mode="standalone")
    loaded = load_saelens(save_saelens(model, tmp_path))
    for i, x in enumerate(Xs):
        ours = model.transform(x, view=i)
        np.testing.assert_allclose(loaded.transform(x, view=i), ours,
                                   atol=1e-5 * max(np.abs(ours).max(), 1.0))


def _write(folder, cfg, tensors):
    folder.mkdir(parents=True)
    (folder / "cfg.json").write_text(json.dumps(cfg))
    save_file({k: np.asarray(v, np.float32) for k, v in tensors.items()},
              str(folder / "sae_weights.safetensors"))


def _foreign(rng, d, m):
    return {"W_enc": rng.standard_normal((d, m)), "b_enc": rng.standard_normal(m) * 0.1,
            "W_dec": rng.standard_normal((m, d)), "b_dec": rng.standard_normal(d)}


def test_other_tools_relu_and_topk_folders_encode_as_saelens_does(tmp_path):
    rng = np.random.default_rng(0)
    relu, topk = _foreign(rng, 6, 10), _foreign(rng, 8, 10)
    # A pre-6.0 ReLU config (no architecture, activation_fn_str) and a 6.x TopK one that
    # rescales pre-activations by the decoder norms and does not subtract b_dec.
    _write(tmp_path / "relu", {"d_in": 6, "d_sae": 10, "activation_fn_str": "relu",
                               "normalize_activations": False}, relu)
    _write(tmp_path / "topk", {"architecture": "topk", "d_in": 8, "d_sae": 10, "k": 3,
                               "rescale_acts_by_decoder_norm": True,
                               "apply_b_dec_to_input": False}, topk)
    loaded = load_saelens([tmp_path / "relu", tmp_path / "topk"], sparse_output=True)
    assert loaded.view_names_ == ["relu", "topk"]
    assert loaded.architectures_ == ["standard", "topk"]
    xa, xb = rng.standard_normal((50, 6)), rng.standard_normal((50, 8))
    za, zb = loaded.transform([xa, xb])
    assert sp.issparse(za) and za.dtype == np.float32
    expected_a = np.maximum((xa - relu["b_dec"]) @ relu["W_enc"] + relu["b_enc"], 0)
    np.testing.assert_allclose(za.toarray(), expected_a, rtol=1e-5, atol=1e-5)
    norms = np.linalg.norm(topk["W_dec"], axis=1)
    pre = (xb @ topk["W_enc"] + topk["b_enc"]) * norms
    kept = np.argsort(-pre, axis=1)[:, :3]
    expected_b = np.zeros_like(pre)
    np.put_along_axis(expected_b, kept, np.maximum(np.take_along_axis(pre, kept, 1), 0), 1)
    np.testing.assert_allclose(zb.toarray(), expected_b, rtol=1e-5, atol=1e-5)
    # Decoding undoes the rescaling: x_hat = (z / norms) @ W_dec + b_dec.
    np.testing.assert_allclose(loaded.inverse_transform(zb.toarray(), view="topk"),
                               (expected_b / norms) @ topk["W_dec"] + topk["b_dec"],
                               rtol=1e-4, atol=1e-4)


def test_bfloat16_weights_are_read(tmp_path):
    rng = np.random.default_rng(1)
    weights = {**_foreign(rng, 4, 5), "threshold": np.full(5, 0.1)}
    folder = tmp_path / "bf16"
    folder.mkdir()
    (folder / "cfg.json").write_text(json.dumps({"architecture": "jumprelu", "d_in": 4,
                                                 "d_sae": 5}))
    # Write bfloat16 by hand (numpy has none): the top 16 bits of each float32.
    header, blobs, offset = {}, [], 0
    for key, value in weights.items():
        bits = (np.asarray(value, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[key] = {"dtype": "BF16", "shape": list(np.shape(value)),
                       "data_offsets": [offset, offset + len(bits)]}
        blobs.append(bits)
        offset += len(bits)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    (folder / "sae_weights.safetensors").write_bytes(
        len(head).to_bytes(8, "little") + head + b"".join(blobs))
    save_saelens_dir = tmp_path / "other"
    _write(save_saelens_dir, {"architecture": "jumprelu", "d_in": 3, "d_sae": 5},
           {**_foreign(rng, 3, 5), "threshold": np.zeros(5)})
    loaded = load_saelens([folder, save_saelens_dir])
    truncated = (weights["W_enc"].astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
    np.testing.assert_array_equal(loaded.views_[0]["W_enc"], truncated)
    np.testing.assert_allclose(loaded.views_[0]["W_enc"], weights["W_enc"], rtol=1e-2)


def test_loaded_estimator_gets_the_same_intervencha_report(sae, data, tmp_path):
    model, Xs = sae
    _, y = data
    save_saelens(model, tmp_path)
    loaded = load_saelens(tmp_path)
    assert loaded.view_names_ == NAMES  # a folder of view folders, read in export order
    ours = intervencha_report(model, Xs, y).frame
    theirs = intervencha_report(loaded, Xs, y).frame
    keys = ["metric", "source", "target"]
    assert (ours[keys] == theirs[keys]).all().all()
    assert (ours["value"] > 0.1).sum() >= 10
    np.testing.assert_allclose(theirs["value"].astype(float), ours["value"].astype(float),
                               atol=1e-3)


# ------------------------------------------------------------------------------ bad input
def test_unfitted_and_unsupported_estimators_are_refused(data, tmp_path):
    Xs, _ = data
    with pytest.raises(NotFittedError, match="CoupledSAE"):
        save_saelens(CoupledSAE(), tmp_path)
    with pytest.raises(TypeError, match="CCA"):
        save_saelens(CCA(n_components=2).fit(Xs), tmp_path)


def test_missing_files_name_the_file(sae, tmp_path):
    model, _ = sae
    folders = save_saelens(model, tmp_path)
    (tmp_path / "dino" / "sae_weights.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"dino.sae_weights\.safetensors is missing"):
        load_saelens(folders)
    with pytest.raises(FileNotFoundError, match=r"nowhere.cfg\.json is missing"):
        load_saelens([folders[0], tmp_path / "nowhere"])


def test_views_with_different_d_sae_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "a", {"architecture": "standard", "d_in": 4, "d_sae": 6},
           _foreign(rng, 4, 6))
    _write(tmp_path / "b", {"architecture": "standard", "d_in": 4, "d_sae": 7},
           _foreign(rng, 4, 7))
    with pytest.raises(ValueError, match="different d_sae.*6.*7"):
        load_saelens([tmp_path / "a", tmp_path / "b"])


def test_bad_folders_and_configs_name_the_problem(sae, tmp_path):
    model, _ = sae
    folders = save_saelens(model, tmp_path / "export")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_saelens(model, tmp_path / "export")
    assert save_saelens(model, tmp_path / "export", overwrite=True) == folders
    with pytest.raises(ValueError, match="at least 2"):
        load_saelens([folders[0]])
    with pytest.raises(ValueError, match="one view's SAELens folder"):
        load_saelens(folders[0])
    rng = np.random.default_rng(0)
    _write(tmp_path / "gated", {"architecture": "gated", "d_in": 4, "d_sae": 6},
           _foreign(rng, 4, 6))
    with pytest.raises(ValueError, match="architecture 'gated'"):
        load_saelens([tmp_path / "gated", folders[0]])
    _write(tmp_path / "norm", {"architecture": "standard", "d_in": 4, "d_sae": 6,
                               "normalize_activations": "layer_norm"}, _foreign(rng, 4, 6))
    with pytest.raises(ValueError, match="normalize_activations='layer_norm'"):
        load_saelens([tmp_path / "norm", folders[0]])
    _write(tmp_path / "short", {"architecture": "jumprelu", "d_in": 4, "d_sae": 6},
           _foreign(rng, 4, 6))
    with pytest.raises(ValueError, match=r"lacks \['threshold'\]"):
        load_saelens([tmp_path / "short", folders[0]])
    _write(tmp_path / "shape", {"architecture": "standard", "d_in": 5, "d_sae": 6},
           _foreign(rng, 4, 6))
    with pytest.raises(ValueError, match="do not match d_in=5"):
        load_saelens([tmp_path / "shape", folders[0]])
    with pytest.raises(ValueError, match="distinct names"):
        SAELensEstimator(folders, view_names=["x", "x"]).fit()
