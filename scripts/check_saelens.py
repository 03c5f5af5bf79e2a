"""Check that the real SAELens package reads skcosae's export and encodes as skcosae does.

sae-lens is not a dependency of skcosae; install it in a throwaway environment (with the
CPU build of torch first, so that pip does not pull a CUDA build)::

    python -m venv /tmp/saelens_venv
    /tmp/saelens_venv/bin/pip install torch==2.13.0 && /tmp/saelens_venv/bin/pip install sae-lens
    PYTHONPATH=$PWD python scripts/check_saelens.py --saelens-python /tmp/saelens_venv/bin/python

The script fits a small CoupledSAE (and one whose threshold was never estimated, exported
as SAELens's "topk"), writes it with ``skcosae.io.save_saelens``, then, in the other
environment, loads each view folder with ``sae_lens.SAE.load_from_disk`` and compares its
``encode`` and ``decode`` with skcosae's ``transform`` and ``inverse_transform``. It prints
one line per view and exits non-zero on a mismatch.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def saelens_side(folder):
    """Run in the sae-lens environment: encode and decode the saved rows with SAELens."""
    import sae_lens
    import torch
    from sae_lens import SAE

    folder = Path(folder)
    report = {"sae_lens": sae_lens.__version__, "torch": torch.__version__, "views": []}
    for view in sorted(p for p in folder.iterdir() if (p / "cfg.json").exists()):
        sae = SAE.load_from_disk(str(view), device="cpu")
        x = torch.from_numpy(np.load(folder / f"x_{view.name}.npy"))
        with torch.no_grad():
            codes = sae.encode(x)
            decoded = sae.decode(codes)
        np.save(folder / f"saelens_codes_{view.name}.npy", codes.numpy())
        np.save(folder / f"saelens_decoded_{view.name}.npy", decoded.numpy())
        report["views"].append({"view": view.name, "class": type(sae).__name__})
    print(json.dumps(report))


def compare(name, skcosae_codes, saelens_codes, skcosae_decoded, saelens_decoded):
    """A line of the report, and whether the two encodings agree."""
    active_ours, active_theirs = skcosae_codes != 0, saelens_codes != 0
    flips = int((active_ours != active_theirs).sum())
    code_err = float(np.abs(skcosae_codes - saelens_codes).max())
    scale = float(np.abs(skcosae_codes).max())
    decode_err = float(np.abs(skcosae_decoded - saelens_decoded).max())
    ok = flips <= 1e-4 * skcosae_codes.size and code_err <= 1e-4 * max(scale, 1.0)
    print(f"{name:>24}: {skcosae_codes.shape[0]} rows x {skcosae_codes.shape[1]} concepts, "
          f"active {int(active_ours.sum())} (skcosae) / {int(active_theirs.sum())} (SAELens), "
          f"{flips} entries differ in activity, max |code diff| {code_err:.2e} "
          f"(max code {scale:.2f}), max |decode diff| {decode_err:.2e} -> "
          f"{'MATCH' if ok else 'MISMATCH'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saelens-python", default="/tmp/saelens_venv/bin/python")
    parser.add_argument("--saelens-side", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.saelens_side:
        saelens_side(args.saelens_side)
        return 0

    import torch

    from skcosae import CoupledSAE
    from skcosae.datasets import make_platonic
    from skcosae.io import save_saelens

    torch.set_num_threads(1)
    Xs, _, _ = make_platonic(n_samples=2000, view_dims=[48, 64], view_names=["vit", "dino"],
                             random_state=0)
    fitted = CoupledSAE(n_concepts=128, k=8, max_epochs=3, view_names=["vit", "dino"],
                        random_state=0).fit(Xs)
    # No training step: the threshold is unset and inference keeps each row's top k.
    untrained = CoupledSAE(n_concepts=128, k=8, max_epochs=1, view_names=["vit", "dino"],
                           random_state=0).fit(Xs)
    untrained.model_.units[0].threshold.fill_(float("nan"))
    untrained.model_.units[1].threshold.fill_(float("nan"))
    ok = True
    for label, sae in (("trained (jumprelu)", fitted), ("unset threshold (topk)", untrained)):
        with tempfile.TemporaryDirectory() as tmp:
            save_saelens(sae, tmp)
            held_out = [x[:500].astype(np.float32) for x in Xs]
            for name, x in zip(sae.view_names_, held_out):
                np.save(Path(tmp) / f"x_{name}.npy", x)
            run = subprocess.run([args.saelens_python, __file__, "--saelens-side", tmp],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(run.stderr[-3000:])
                return 2
            report = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{label}: sae-lens {report['sae_lens']}, torch {report['torch']}, "
                  f"classes {[v['class'] for v in report['views']]}")
            codes = sae.transform(held_out)
            for i, name in enumerate(sae.view_names_):
                theirs = np.load(Path(tmp) / f"saelens_codes_{name}.npy")
                decoded_theirs = np.load(Path(tmp) / f"saelens_decoded_{name}.npy")
                ok &= compare(f"{label} {name}", codes[i], theirs,
                              sae.inverse_transform(codes[i], view=i), decoded_theirs)
    print("all views match" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
