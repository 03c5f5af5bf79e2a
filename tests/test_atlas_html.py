"""The atlas page, read back with Python's html.parser (scripts/check_atlas_page.py opens it
in a real Chromium)."""

import base64
import json
import struct
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from skcosae import CoupledSAE
from skcosae.atlas import concept_atlas
from skcosae.atlas._html import png_data_uri
from skcosae.datasets import make_platonic

HOSTILE = '</script><script>alert("x")</script><!-- & "quotes"'


class _Page(HTMLParser):
    """Tags with their attributes, header cells of the concept table, the JSON payload."""

    def __init__(self):
        super().__init__()
        self.tags, self.headers, self.scripts = [], [], []
        self._in_th = self._script = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "th":
            self._in_th = ""
        if tag == "script":
            self._script = {"attrs": attrs, "text": ""}

    def handle_endtag(self, tag):
        if tag == "th":
            self.headers.append(self._in_th)
            self._in_th = None
        if tag == "script":
            self.scripts.append(self._script)
            self._script = None

    def handle_data(self, data):
        if self._in_th is not None:
            self._in_th += data
        if self._script is not None:
            self._script["text"] += data


@pytest.fixture(scope="module")
def atlas():
    Xs, y, _ = make_platonic(n_samples=400, view_dims=16, n_classes=4, random_state=0)
    sae = CoupledSAE(n_concepts=32, k=4, max_epochs=3, view_names=["a", "b"],
                     random_state=0).fit(Xs)
    examples = [f"article {r}" for r in range(400)]
    examples[0] = HOSTILE
    return concept_atlas(sae, Xs, labels=np.array(["business", "sport", "tech", "arts"])[y],
                         examples=examples)


def _read(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_page_holds_every_concept_and_only_inline_resources(atlas, tmp_path):
    path = tmp_path / "atlas.html"
    assert atlas.to_html(path, n_examples=3, page_size=10) == str(path)
    page = _read(path)
    # The concept table's header: the concept index, then the table's columns.
    assert page.headers == ["concept"] + list(atlas.table.columns)
    assert [t for t, a in page.tags if t == "table"] == ["table"]
    # Two scripts: the JSON payload and the page's code; nothing from outside the file.
    assert len(page.scripts) == 2 and all("src" not in s["attrs"] for s in page.scripts)
    assert not [a for t, a in page.tags if t in ("link", "iframe", "img", "object", "embed")]
    for _, attrs in page.tags:
        for value in attrs.values():
            assert not str(value).startswith(("http:", "https:", "//"))
    data = json.loads(page.scripts[0]["text"])
    assert data["n_concepts"] == 32 and data["views"] == ["a", "b"] and data["page_size"] == 10

    table = data["table"]
    assert table["columns"] == page.headers
    assert all(len(column) == 32 for column in table["values"])
    kinds = table["values"][table["columns"].index("kind")]
    assert kinds == atlas.table["kind"].astype(str).tolist()
    frequency = table["values"][table["columns"].index("frequency_a")]
    np.testing.assert_allclose(frequency, atlas.table["frequency_a"], rtol=1e-3)

    # One card per concept, each with its top rows per view, as top_examples gives them.
    assert len(data["cards"]) == 32
    for concept, card in enumerate(data["cards"]):
        top = atlas.top_examples(concept, n=3)
        for view, info in zip(["a", "b"], card["v"]):
            rows = top.loc["top", (view, "row")].dropna().astype(int).tolist()
            assert [r for r, _ in info["top"]] == rows
            assert info["n"] == np.diff(atlas.codes[["a", "b"].index(view)].indptr)[concept]
            if info["n"]:
                assert sum(info["h"][2]) == info["n"]  # the histogram counts every firing
            for r in rows:
                assert data["examples"][str(r)]["text"] == f"article {r}" or r == 0
        if atlas.table.loc[concept, "kind"] != "dead":
            labels = [name for name, _ in card["l"]]
            assert labels[0] == atlas.table.loc[concept, "label"]


def test_user_text_cannot_break_out_of_the_page(atlas, tmp_path):
    path = tmp_path / "atlas.html"
    atlas.to_html(path, n_examples=400)  # every firing row, row 0 (the hostile text) included
    text = path.read_text(encoding="utf-8")
    assert "alert" in text and '<script>alert' not in text
    page = _read(path)
    assert len(page.scripts) == 2
    data = json.loads(page.scripts[0]["text"])
    assert data["examples"]["0"]["text"] == HOSTILE


def _decode_png(uri):
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = {}, 8
    while position < len(raw):
        (length,) = struct.unpack(">I", raw[position:position + 4])
        kind = raw[position + 4:position + 8]
        body = raw[position + 8:position + 8 + length]
        crc = struct.unpack(">I", raw[position + 8 + length:position + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 2: 3, 6: 4}[colour]
    rows = zlib.decompress(chunks[b"IDAT"])
    stride = width * channels + 1
    assert all(rows[i * stride] == 0 for i in range(height))  # filter type 0
    pixels = np.frombuffer(rows, dtype=np.uint8).reshape(height, stride)[:, 1:]
    return pixels.reshape(height, width, channels).squeeze()


def test_image_thumbnails_are_pngs_of_the_images():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png(png_data_uri(grey)), grey)
    colour = rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png(png_data_uri(colour)), colour)
    unit = rng.random((6, 6))
    np.testing.assert_array_equal(_decode_png(png_data_uri(unit)),
                                  np.clip(unit * 255 + 0.5, 0, 255).astype(np.uint8))
    large = rng.integers(0, 256, (300, 200), dtype=np.uint8)
    assert _decode_png(png_data_uri(large)).shape == (60, 40)  # every 5th pixel


def test_image_examples_appear_as_thumbnails(atlas, tmp_path):
    from skcosae.atlas import ConceptAtlas

    images = np.random.default_rng(1).random((400, 8, 8, 3))
    with_images = ConceptAtlas(atlas.codes, atlas.view_names, table=atlas.table,
                               examples=images)
    path = tmp_path / "images.html"
    with_images.to_html(path, n_examples=2)
    data = json.loads(_read(path).scripts[0]["text"])
    row, item = next(iter(data["examples"].items()))
    assert item["img"].startswith("data:image/png;base64,")
    np.testing.assert_array_equal(_decode_png(item["img"]),
                                  np.clip(images[int(row)] * 255 + 0.5, 0, 255).astype(np.uint8))


def test_page_parameters_are_checked(atlas, tmp_path):
    with pytest.raises(ValueError, match="n_examples"):
        atlas.to_html(tmp_path / "x.html", n_examples=0)
    with pytest.raises(ValueError, match="page_size"):
        atlas.to_html(tmp_path / "x.html", page_size=-1)


def test_page_builds_without_matplotlib_and_plots_say_what_they_need(atlas, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    path = atlas.to_html(tmp_path / "atlas.html")
    assert len(_read(Path(path)).scripts) == 2
    with pytest.raises(ImportError, match=r"skcosae\[plot\]"):
        atlas.plot()
