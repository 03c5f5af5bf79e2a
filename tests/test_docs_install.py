"""Install instructions that hold everywhere: torch first in every command that installs
the package, the CPU and GPU routes spelt out, and CI running the README's test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = 'python -m pip install "torch==2.13.0"'
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def command_blocks(text):
    """The indented literal blocks of a Markdown or reST file, as lists of commands."""
    blocks, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("    ") and line.strip().startswith("python -m"):
            current += [c.strip() for c in line.split("&&")]
        elif current and not line.startswith("    "):
            blocks.append(current)
            current = []
    return blocks


def installs_package(command):
    return re.search(r"pip install (-e )?(\.|\"\.\[\w+\]\")$", command) is not None


@pytest.mark.parametrize("path", ["README.md", "docs/getting_started.rst"])
def test_every_package_install_comes_after_a_torch_install(path):
    blocks = command_blocks((ROOT / path).read_text())
    package_installs = 0
    for commands in blocks:
        for position, command in enumerate(commands):
            if installs_package(command):
                package_installs += 1
                assert any(c.startswith(TORCH) for c in commands[:position]), (path, commands)
    assert package_installs >= 2


def test_readme_commands_and_ci():
    text = (ROOT / "README.md").read_text()
    blocks = command_blocks(text)
    demo = [b for b in blocks if b[-1] == "python examples/demo.py"]
    tests = [b for b in blocks if b[-1] == "python -m pytest -q"]
    docs = [b for b in blocks if b[-1].startswith("python -m sphinx -W")]
    assert len(demo) == len(tests) == len(docs) == 1
    # CI runs exactly the README's test command (then the static checks).
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.startswith("python ")]
    assert ci[0] == " && ".join(tests[0])
    # The CPU build where the index serves the CUDA one, and the GPU route.
    assert f'{TORCH} {CPU_INDEX}' in text
    assert "GPU" in text and "download.pytorch.org/whl/cu" in text
    assert CPU_INDEX in (ROOT / "docs" / "getting_started.rst").read_text()
