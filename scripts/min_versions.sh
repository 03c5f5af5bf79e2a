#!/usr/bin/env bash
# min-versions job: proves the floors of pyproject.toml. It makes a fresh virtual environment
# with the oldest Python that requires-python allows, installs exactly the lowest declared
# version of every dependency and of the test extra ("numpy>=1.23" becomes "numpy==1.23"),
# and runs the whole suite on them.
#
#   bash scripts/min_versions.sh            # venv in $TMPDIR (default /tmp)
#   PYTHON=/path/to/python3.10 MIN_VENV=/tmp/mv bash scripts/min_versions.sh
#
# Extra pytest arguments are passed on (e.g. `-x`, or test paths). The job downloads the
# torch floor from PyPI: a CUDA build of several GB (it runs on the CPU as well).
set -euo pipefail
cd "$(dirname "$0")/.."

python_floor=$(sed -n 's/^requires-python *= *">=\([0-9.]*\)".*/\1/p' pyproject.toml)
PYTHON=${PYTHON:-python$python_floor}
if ! "$PYTHON" --version >/dev/null 2>&1 && command -v pyenv >/dev/null; then
    # pyenv installs it without putting it on PATH.
    PYTHON=$(ls -d "$(pyenv root)/versions/$python_floor".*/bin/python | sort -V | tail -n 1)
fi
found=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$found" != "$python_floor" ]; then
    echo "min-versions: requires-python floor is $python_floor but $PYTHON is $found;" \
         "set PYTHON to a Python $python_floor interpreter." >&2
    exit 2
fi

# Every requirement of [project] dependencies and of the test extra must carry a floor.
pins=$("$PYTHON" - <<'EOF'
import re
import sys

text = open("pyproject.toml").read()
requirements = []
for key in ("dependencies", "test"):
    block = re.search(rf"^{key} *= *\[(.*?)\]", text, re.S | re.M)
    requirements += re.findall(r'"([^"]+)"', block.group(1))
for requirement in requirements:
    floor = re.fullmatch(r"([A-Za-z0-9_.-]+) *>= *([0-9][^,; ]*).*", requirement)
    if floor is None:
        sys.exit(f"min-versions: {requirement!r} declares no floor (name>=version)")
    print(f"{floor[1]}=={floor[2]}")
EOF
)

venv=${MIN_VENV:-${TMPDIR:-/tmp}/skcosae-min-versions}
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# Wheels only: an sdist would build against whatever its build requires, not these pins.
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install --only-binary=:all: $pins
"$venv/bin/python" -m pip install --quiet --no-deps -e .
echo "min-versions: Python $found with"
"$venv/bin/python" -m pip list --format=freeze | grep -iE \
    "^($(echo "$pins" | sed 's/==.*//' | paste -sd'|'))=="
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
