"""Every Python code block of the user guide (``docs/*.rst``) runs as written.

The blocks of one page run in order, in one namespace (a later block may use the names of
an earlier one, as a reader going down the page would), in a fresh working directory.
Two markers, reST comments placed before a block, change that; the docs build ignores
them:

``.. not-run: <reason>``
    The block is shown but never run (for instance it reads the reader's own files).
``.. requires: <module>``
    The block runs only where ``<module>`` imports (for instance ``matplotlib``, an extra).

Code pulled in with ``literalinclude`` is tested where it lives: the README example by
``test_demo_readme.py``, the demo by the same file.
"""

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
_DIRECTIVE = re.compile(r"^\.\. code-block:: python\s*$")
_MARKER = re.compile(r"^\.\. (not-run|requires):(.*)$")


def python_blocks(text):
    """``(line, code, marker, argument)`` for each ``code-block:: python`` of a page."""
    lines = text.splitlines()
    blocks, marker = [], (None, "")
    for number, line in enumerate(lines):
        found = _MARKER.match(line)
        if found:
            marker = (found.group(1), found.group(2).strip())
            continue
        if not _DIRECTIVE.match(line):
            continue
        body = []
        for following in lines[number + 1:]:
            if following.strip() and not following.startswith((" ", "\t")):
                break
            body.append(following)
        code = textwrap.dedent("\n".join(body)).strip("\n")
        blocks.append((number + 1, code, *marker))
        marker = (None, "")
    return blocks


PAGES = sorted(p for p in DOCS.glob("*.rst") if python_blocks(p.read_text()))


def test_the_parser_reads_blocks_and_markers():
    page = textwrap.dedent("""\
        Title
        =====

        .. code-block:: python

            a = 1

                b = 2   # still the block

        Text.

        .. not-run: reads
           your files

        .. code-block:: python

            load("mine")

        .. requires: matplotlib

        .. code-block:: python

            import matplotlib
        """)
    blocks = python_blocks(page)
    assert [(code, marker) for _, code, marker, _ in blocks] == [
        ("a = 1\n\n    b = 2   # still the block", None),
        ('load("mine")', "not-run"),
        ("import matplotlib", "requires"),
    ]
    assert blocks[2][3] == "matplotlib"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch):
    matplotlib = importlib.util.find_spec("matplotlib")
    if matplotlib is not None:
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    ran = 0
    for line, code, marker, argument in python_blocks(page.read_text()):
        if marker == "not-run":
            assert argument, f"{page.name}:{line}: a not-run block must say why"
            continue
        if marker == "requires" and importlib.util.find_spec(argument) is None:
            continue
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(
                f"The python block at {page.name}:{line} fails: {exc!r}") from exc
        ran += 1
    assert ran > 0
