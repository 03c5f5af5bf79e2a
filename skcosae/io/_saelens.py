"""SAELens folders: one sparse autoencoder per view, ``cfg.json`` + ``sae_weights.safetensors``.

The layout is SAELens's (version 6): ``W_enc`` (d_in, d_sae), ``b_enc`` (d_sae,), ``W_dec``
(d_sae, d_in), ``b_dec`` (d_in,) and, for JumpReLU, ``threshold`` (d_sae,), all float32.
SAELens encodes a raw input ``x`` as

    pre = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc
    jumprelu: z = relu(pre) * (pre > threshold);  standard: z = relu(pre);
    topk: the k largest entries of pre, through a ReLU

and decodes ``x_hat = z @ W_dec + b_dec``. A :class:`~skcosae.CoupledSAE` standardises each
view inside its model (``x_n = (x - mean) / scale``) and keeps, at inference, every
pre-activation above one learnt threshold. With ``s = scale``::

    (x_n - b) @ E.T + c  ==  (x - (s b + mean)) @ (E.T / s) + c
    (z @ D.T + b) s + mean  ==  z @ (s D.T) + (s b + mean)

so the export writes ``W_enc = E.T / s``, ``W_dec = s D.T``, ``b_dec = s b + mean``,
``b_enc = c`` with ``apply_b_dec_to_input = True``: the files encode raw inputs and give
skcosae's codes.
"""

from __future__ import annotations

import json
import numbers
import os
import struct
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._compat import fit_context
from .._surface import MultiViewSurfaceMixin

__all__ = ["SAELensEstimator", "load_saelens", "save_saelens"]

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
# SAELens reads a cfg.json without metadata.sae_lens_version as its older (pre-6.0) layout
# and drops the metadata; the files follow the 6.0 layout, so they say so.
SAELENS_FORMAT_VERSION = "6.0.0"
ARCHITECTURES = ("jumprelu", "standard", "topk")
# Dense pre-activations of at most this many values at a time (32 MB of float32).
_CHUNK_VALUES = 2**23


# ---------------------------------------------------------------------------------- export
def _json_name(name):
    """A view name as JSON keeps it (ints stay ints, anything else becomes its text)."""
    if isinstance(name, numbers.Integral) and not isinstance(name, bool):
        return int(name)
    return name if isinstance(name, str) else str(name)


def _folder_name(name):
    folder = str(name)
    if folder in ("", ".", "..") or any(sep in folder for sep in ("/", "\\", os.sep)):
        raise ValueError(
            f"View name {name!r} cannot name a folder; give the estimator view_names that "
            "are plain folder names."
        )
    return folder


def _coupled_view(estimator, i):
    """SAELens weights of view ``i`` of a fitted CoupledSAE, standardisation folded in."""
    if estimator.architecture == "crosscoder" and estimator.crosscoder_mode == "shared":
        raise ValueError(
            "save_saelens: CoupledSAE(architecture='crosscoder', crosscoder_mode='shared') "
            "encodes all views at once, while a SAELens folder holds one view's encoder. "
            "Export the standalone encoders: sae.set_params(crosscoder_mode='standalone')."
        )
    model = estimator.model_
    if model.is_crosscoder:
        unit, slot = model.crosscoder, i
    else:
        unit, slot = model._unit(i), 0

    def numpy(tensor):
        return tensor.detach().cpu().double().numpy()

    mean, scale = numpy(model.input_mean[i]), float(model.input_scale[i])
    b_dec = numpy(unit.b_dec[slot])
    weights = {
        "W_enc": numpy(unit.W_enc[slot]).T / scale,
        "b_enc": numpy(unit.b_enc),
        "W_dec": numpy(unit.W_dec[slot]).T * scale,
        "b_dec": scale * b_dec + mean,
    }
    threshold = float(unit.threshold)
    if np.isnan(threshold):
        # Never estimated (no training step): inference keeps each row's top k.
        k_row = min(max(1, int(round(unit.k))), estimator.n_concepts_)
        return "topk", weights, {"k": k_row, "rescale_acts_by_decoder_norm": False}
    # At or below zero the model keeps every positive pre-activation: JumpReLU at 0.
    weights["threshold"] = np.full(estimator.n_concepts_, max(threshold, 0.0))
    return "jumprelu", weights, {}


def _loaded_view(estimator, i):
    view = estimator.views_[i]
    extra = {}
    if view["architecture"] == "topk":
        extra = {"k": view["k"], "rescale_acts_by_decoder_norm": view["rescale"]}
    weights = {key: view[key] for key in ("W_enc", "b_enc", "W_dec", "b_dec")}
    if view["architecture"] == "jumprelu":
        weights["threshold"] = view["threshold"]
    if not view["apply_b_dec_to_input"]:
        extra["apply_b_dec_to_input"] = False
    return view["architecture"], weights, extra


def _export_view(estimator, i):
    from ..coupled import CoupledSAE

    if isinstance(estimator, CoupledSAE):
        return _coupled_view(estimator, i)
    if isinstance(estimator, SAELensEstimator):
        return _loaded_view(estimator, i)
    raise TypeError(
        f"save_saelens writes sparse autoencoders (a fitted CoupledSAE or SAELensEstimator); "
        f"got {type(estimator).__name__}, whose codes have no SAELens architecture."
    )


def save_saelens(estimator, path, *, overwrite=False):
    """Write each view's sparse autoencoder as a SAELens folder.

    ``path/<view name>/cfg.json`` and ``path/<view name>/sae_weights.safetensors``, in
    SAELens's JumpReLU layout (``W_enc`` [d_in, d_sae], ``b_enc``, ``W_dec`` [d_sae, d_in],
    ``b_dec``, ``threshold``; float32). The model's internal standardisation of each view is
    folded into the weights, so the files encode the raw inputs and reproduce
    ``estimator.transform``. A model whose inference threshold was never estimated (no
    training step) keeps each row's top ``k`` and is written as SAELens's ``"topk"``
    architecture. See docs/atlas.rst.

    Parameters
    ----------
    estimator : fitted CoupledSAE or SAELensEstimator
        A crosscoder must encode each view alone (``crosscoder_mode="standalone"``).
    path : str or path-like
        Folder that receives one subfolder per view (created when missing).
    overwrite : bool, default=False
        Replace the files of an earlier export.

    Returns
    -------
    folders : list of str
        The view folders written, in view order (what :func:`load_saelens` takes).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> from skcosae.io import load_saelens, save_saelens
    >>> Xs, y, truth = make_platonic(n_samples=300, view_dims=16, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> folders = save_saelens(sae, tempfile.mkdtemp())
    >>> [Path(f).name for f in folders]
    ['0', '1']
    >>> loaded = load_saelens(folders)
    >>> bool(np.allclose(loaded.transform(Xs)[0], sae.transform(Xs)[0], atol=1e-4))
    True
    """
    check_is_fitted(estimator)
    root = Path(path)
    folders = []
    names = list(estimator.view_names_)
    for i, name in enumerate(names):
        folder = root / _folder_name(name)
        if not overwrite and (folder / CFG_FILENAME).exists():
            raise FileExistsError(
                f"{folder / CFG_FILENAME} already exists; pass overwrite=True to replace "
                "the earlier export."
            )
        architecture, weights, extra = _export_view(estimator, i)
        d_sae, d_in = weights["W_dec"].shape
        cfg = {
            "architecture": architecture,
            "d_in": int(d_in),
            "d_sae": int(d_sae),
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": True,
            "normalize_activations": "none",
            "reshape_activations": "none",
            **extra,
            "metadata": {
                "sae_lens_version": SAELENS_FORMAT_VERSION,
                "model_name": f"skcosae.{type(estimator).__name__}",
                "hook_name": str(name),
                "skcosae_version": _skcosae_version(),
                "skcosae_view": _json_name(name),
                "skcosae_view_index": i,
                "skcosae_views": [_json_name(n) for n in names],
            },
        }
        _write_folder(folder, cfg, weights)
        folders.append(str(folder))
    return folders


def _skcosae_version():
    from .. import __version__

    return __version__


def _write_folder(folder, cfg, weights):
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {key: np.ascontiguousarray(value, dtype=np.float32)
               for key, value in weights.items()}
    # "format": "pt" lets torch-side readers (transformers, SAELens) take the file as theirs.
    save_file(tensors, str(folder / WEIGHTS_FILENAME), metadata={"format": "pt"})
    with open(folder / CFG_FILENAME, "w") as f:
        json.dump(cfg, f, indent=2)


# ---------------------------------------------------------------------------------- import
def _read_safetensors(path):
    """Every tensor of a safetensors file as a float32 array (bfloat16 included)."""
    from safetensors.numpy import load_file

    try:
        return {key: np.asarray(value, dtype=np.float32)
                for key, value in load_file(str(path)).items()}
    except (TypeError, ValueError, AttributeError):
        pass  # safetensors < 0.5 looks up a numpy.bfloat16, which numpy does not have
    # numpy has no bfloat16, which safetensors' numpy reader refuses; the format is simple
    # enough to read here: an 8-byte header length, a JSON header, then the raw tensors.
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    dtypes = {"F32": np.float32, "F64": np.float64, "F16": np.float16}
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, stop = info["data_offsets"]
        raw = data[start:stop]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        elif info["dtype"] in dtypes:
            values = np.frombuffer(raw, dtype=np.dtype(dtypes[info["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {key!r} has dtype {info['dtype']}, not a float.")
        tensors[key] = values.astype(np.float32).reshape(info["shape"])
    return tensors


def _architecture(cfg, folder):
    """Architecture, k and decoder-norm rescaling from a cfg.json (older layouts included)."""
    architecture = cfg.get("architecture")
    activation = cfg.get("activation_fn", cfg.get("activation_fn_str"))
    k = cfg.get("k", (cfg.get("activation_fn_kwargs") or {}).get("k"))
    if architecture is None:
        # SAELens before 6.0 wrote the activation, not the architecture.
        architecture = "topk" if activation == "topk" else "standard"
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"{folder / CFG_FILENAME} has architecture {architecture!r}; load_saelens reads "
            f"{list(ARCHITECTURES)} ('standard' is the ReLU SAE)."
        )
    if architecture == "topk" and not (isinstance(k, numbers.Integral) and k >= 1):
        raise ValueError(
            f"{folder / CFG_FILENAME}: a 'topk' SAE needs a positive int k; got {k!r}.")
    rescale = bool(cfg.get("rescale_acts_by_decoder_norm", False))
    return architecture, (int(k) if architecture == "topk" else None), rescale


def _read_folder(folder):
    folder = Path(folder)
    for filename in (CFG_FILENAME, WEIGHTS_FILENAME):
        if not (folder / filename).is_file():
            raise FileNotFoundError(
                f"{folder / filename} is missing: a SAELens folder holds {CFG_FILENAME} and "
                f"{WEIGHTS_FILENAME}."
            )
    with open(folder / CFG_FILENAME) as f:
        cfg = json.load(f)
    architecture, k, rescale = _architecture(cfg, folder)
    normalisation = cfg.get("normalize_activations", "none")
    if normalisation not in ("none", None, False):
        raise ValueError(
            f"{folder / CFG_FILENAME} has normalize_activations={normalisation!r}: the SAE "
            "expects inputs rescaled by a factor the folder does not hold. Fold the scaling "
            "into the weights (SAELens: fold_activation_norm_scaling_factor) and save again."
        )
    tensors = _read_safetensors(folder / WEIGHTS_FILENAME)
    scaling = tensors.pop("scaling_factor", None)
    if scaling is not None and not np.allclose(scaling, 1.0):
        raise ValueError(
            f"{folder / WEIGHTS_FILENAME} holds a fine-tuning scaling_factor; fold it into "
            "W_dec before loading."
        )
    needed = ["W_enc", "b_enc", "W_dec", "b_dec"]
    if architecture == "jumprelu":
        needed.append("threshold")
    missing = [key for key in needed if key not in tensors]
    if missing:
        raise ValueError(
            f"{folder / WEIGHTS_FILENAME} lacks {missing} for a {architecture!r} SAE (it "
            f"holds {sorted(tensors)})."
        )
    d_in, d_sae = tensors["W_enc"].shape if tensors["W_enc"].ndim == 2 else (None, None)
    d_in, d_sae = cfg.get("d_in", d_in), cfg.get("d_sae", d_sae)
    shapes = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    if architecture == "jumprelu":
        if tensors["threshold"].ndim == 0:
            tensors["threshold"] = np.full(d_sae, tensors["threshold"], dtype=np.float32)
        shapes["threshold"] = (d_sae,)
    wrong = {key: tensors[key].shape for key, shape in shapes.items()
             if tensors[key].shape != shape}
    if wrong:
        raise ValueError(
            f"{folder / WEIGHTS_FILENAME}: shapes {wrong} do not match d_in={d_in}, "
            f"d_sae={d_sae} of {CFG_FILENAME} (expected {shapes})."
        )
    metadata = cfg.get("metadata") or {}
    name = metadata.get("skcosae_view", folder.name)
    view = {key: tensors[key] for key in shapes}
    view.update(architecture=architecture, k=k, rescale=rescale, cfg=cfg, path=str(folder),
                name=name, index=metadata.get("skcosae_view_index"),
                apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)))
    return view


def _view_folders(paths):
    """The view folders: a list of them, or one folder holding one subfolder per view."""
    if isinstance(paths, (str, os.PathLike)):
        root = Path(paths)
        if (root / CFG_FILENAME).exists():
            raise ValueError(
                f"{root} is one view's SAELens folder; load_saelens needs one folder per view "
                "(a list of at least 2), or a folder of view folders."
            )
        if not root.is_dir():
            raise FileNotFoundError(f"{root} does not exist.")
        return sorted(p for p in root.iterdir() if p.is_dir() and (p / CFG_FILENAME).exists())
    return [Path(p) for p in paths]


class SAELensEstimator(MultiViewSurfaceMixin, TransformerMixin, BaseEstimator,
                       auto_wrap_output_keys=None):
    """A multi-view estimator made of SAELens-format sparse autoencoders, one per view.

    :meth:`fit` reads the folders (``X`` is ignored: the weights are pretrained); the
    fitted estimator has the surface of :class:`~skcosae.CoupledSAE` (``transform``,
    ``inverse_transform``, ``translate``, ``reconstruct``, ``score``, ``dictionaries_``), so
    :func:`~skcosae.metrics.intervencha_report` and :func:`~skcosae.atlas.concept_atlas`
    score SAEs trained with other tools. Concept ``c`` of every view is latent ``c`` of
    that view's SAE: the views' SAEs must have the same ``d_sae``. Built by
    :func:`load_saelens`. Supported architectures: ``"jumprelu"``, ``"standard"`` (ReLU) and
    ``"topk"``, without runtime input normalisation (``normalize_activations="none"``).

    Parameters
    ----------
    paths : list of str or path-like, or str or path-like
        One SAELens folder per view (``cfg.json`` + ``sae_weights.safetensors``), in view
        order; or one folder holding one such folder per view (as :func:`save_saelens`
        writes), read in the order of the views at export, else by folder name.
    view_names : list, default=None
        Names of the views; default: the names stored at export by skcosae, else the
        folder names.
    sparse_output : bool, default=False
        Whether :meth:`transform` returns scipy.sparse CSR float32 codes (computed in row
        chunks, so the dense (n, d_sae) codes never exist at once).

    Attributes
    ----------
    n_views_ : int
    view_names_ : list
    view_sizes_ : list of int
        ``d_in`` of each view's SAE.
    n_features_in_ : int
    n_concepts_ : int
        ``d_sae``, the same in every view.
    feature_names_per_view_ : list of list of str
    architectures_ : list of str
        Each view's architecture.
    configs_ : list of dict
        Each view's ``cfg.json``.
    paths_ : list of str
        The folders read.
    views_ : list of dict
        Each view's weights (float32, SAELens layout) and encoding settings.
    pair_mask_ : None
        A loaded model carries no record of the rows it was trained on.

    Examples
    --------
    >>> import tempfile
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> from skcosae.io import SAELensEstimator, save_saelens
    >>> Xs, y, truth = make_platonic(n_samples=300, view_dims=16, random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, random_state=0).fit(Xs)
    >>> loaded = SAELensEstimator(save_saelens(sae, tempfile.mkdtemp())).fit()
    >>> loaded.architectures_, loaded.n_concepts_
    (['jumprelu', 'jumprelu'], 32)
    >>> loaded.translate(Xs[0], source=0, target=1).shape
    (300, 16)
    """

    _parameter_constraints: dict = {
        "paths": [list, tuple, str, os.PathLike],
        "view_names": ["array-like", None],
        "sparse_output": ["boolean"],
    }

    def __init__(self, paths, *, view_names=None, sparse_output=False):
        self.paths = paths
        self.view_names = view_names
        self.sparse_output = sparse_output

    @property
    def view_sizes(self):
        """Widths by which a single 2-D array is split into views: those of the files."""
        return getattr(self, "view_sizes_", None)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Read the SAELens folders; ``X`` and ``y`` are ignored.

        Returns
        -------
        self : SAELensEstimator
        """
        folders = _view_folders(self.paths)
        if len(folders) < 2:
            raise ValueError(
                f"load_saelens needs one SAELens folder per view, at least 2; got "
                f"{[str(f) for f in folders]}."
            )
        views = [_read_folder(f) for f in folders]
        one_root = isinstance(self.paths, (str, os.PathLike))
        if one_root and all(v["index"] is not None for v in views):
            views.sort(key=lambda v: v["index"])
        widths = {v["path"]: int(v["W_dec"].shape[0]) for v in views}
        if len(set(widths.values())) > 1:
            raise ValueError(
                f"The views' SAEs have different d_sae: {widths}. Concept c of every view is "
                "latent c of its SAE, so all views need the same d_sae."
            )
        names = list(self.view_names) if self.view_names is not None else [v["name"] for v in views]
        if len(names) != len(views):
            raise ValueError(f"view_names has {len(names)} names for {len(views)} folders.")
        if len(set(map(str, names))) != len(names):
            raise ValueError(
                f"The views need distinct names; got {names}. Pass view_names=[...]."
            )
        self.views_ = views
        self.paths_ = [v["path"] for v in views]
        self.configs_ = [v["cfg"] for v in views]
        self.architectures_ = [v["architecture"] for v in views]
        self.n_views_ = len(views)
        self.view_names_ = names
        self.view_sizes_ = [int(v["W_dec"].shape[1]) for v in views]
        self.n_features_in_ = int(sum(self.view_sizes_))
        self.n_concepts_ = int(views[0]["W_dec"].shape[0])
        self.feature_names_per_view_ = [[f"x{j}" for j in range(d)] for d in self.view_sizes_]
        self.pair_mask_ = None
        return self

    @property
    def dictionaries_(self):
        """One (n_concepts, d_i) array per view: row c is concept c's decoder atom."""
        check_is_fitted(self)
        atoms = []
        for view in self.views_:
            W = view["W_dec"].astype(np.float64)
            if view["rescale"]:
                W = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
            atoms.append(W)
        return atoms

    def _activate(self, x, view):
        """Codes of one chunk of raw rows, as SAELens's encode computes them (float32)."""
        x = np.asarray(x, dtype=np.float32)
        if view["apply_b_dec_to_input"]:
            x = x - view["b_dec"]
        pre = x @ view["W_enc"] + view["b_enc"]
        if view["architecture"] == "jumprelu":
            return np.where(pre > view["threshold"], np.maximum(pre, 0), 0).astype(np.float32)
        if view["architecture"] == "standard":
            return np.maximum(pre, 0)
        if view["rescale"]:
            pre = pre * np.linalg.norm(view["W_dec"], axis=1)
        k = min(view["k"], pre.shape[1])
        top = np.argpartition(-pre, k - 1, axis=1)[:, :k]
        codes = np.zeros_like(pre)
        np.put_along_axis(codes, top, np.maximum(np.take_along_axis(pre, top, axis=1), 0), axis=1)
        return codes

    def _encode_view(self, x, i):
        view = self.views_[i]
        rows = max(1, _CHUNK_VALUES // self.n_concepts_)
        chunks = [self._activate(x[start:start + rows], view)
                  for start in range(0, x.shape[0], rows)]
        if self.sparse_output:
            chunks = [sp.csr_matrix(c) for c in chunks]
            if not chunks:
                return sp.csr_matrix((0, self.n_concepts_), dtype=np.float32)
            return sp.vstack(chunks, format="csr")
        return np.concatenate(chunks) if chunks else np.zeros((0, self.n_concepts_), np.float32)

    def _decode_view(self, z, i):
        view = self.views_[i]
        if view["rescale"]:
            z = z / np.linalg.norm(view["W_dec"], axis=1)
        return np.asarray(z @ view["W_dec"]) + view["b_dec"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.requires_fit = True
        return tags


def load_saelens(paths, *, view_names=None, sparse_output=False):
    """A fitted multi-view estimator from SAELens folders, one per view.

    Reads folders written by :func:`save_saelens` or by another tool (SAELens, and those
    that write its layout) with architecture ``"jumprelu"``, ``"standard"`` (ReLU) or
    ``"topk"``; every view's SAE must have the same ``d_sae``. See
    :class:`SAELensEstimator` and docs/atlas.rst.

    Parameters
    ----------
    paths : list of str or path-like, or str or path-like
        One folder per view, in view order, or one folder of view folders.
    view_names : list, default=None
        Names of the views (default: those stored by skcosae, else the folder names).
    sparse_output : bool, default=False
        Whether ``transform`` returns scipy.sparse CSR codes.

    Returns
    -------
    estimator : SAELensEstimator
        Fitted: ``transform``, ``translate``, ``inverse_transform``, ``dictionaries_``.

    Examples
    --------
    >>> import tempfile
    >>> from skcosae import CoupledSAE
    >>> from skcosae.datasets import make_platonic
    >>> from skcosae.io import load_saelens, save_saelens
    >>> Xs, y, truth = make_platonic(n_samples=300, view_dims=16, view_names=["a", "b"],
    ...                              random_state=0)
    >>> sae = CoupledSAE(n_concepts=32, k=4, max_epochs=2, view_names=["a", "b"],
    ...                  random_state=0).fit(Xs)
    >>> export = tempfile.mkdtemp()
    >>> folders = save_saelens(sae, export)            # export/a, export/b
    >>> loaded = load_saelens([f"{export}/a", f"{export}/b"])
    >>> loaded.view_names_, loaded.view_sizes_
    (['a', 'b'], [16, 16])
    """
    return SAELensEstimator(paths, view_names=view_names, sparse_output=sparse_output).fit()
