"""The atlas as one self-contained HTML page: inline CSS, inline script, inline SVG.

Everything comes from one JSON payload in the page: the script sorts and filters the table
there and puts one page of rows and their cards in the document at a time, so that a page of
8192 concepts opens about as fast as one of 100. No file or network access.
"""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ._atlas import DEFAULT_QUANTILES, _is_image
from ._table import KINDS

_HIST_BINS = 20
_THUMBNAIL_PIXELS = 64


# ---------------------------------------------------------------------------- PNG thumbnails
def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_data_uri(image, max_pixels=_THUMBNAIL_PIXELS):
    """A small PNG of an (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) array, as a data URI.

    Floats in [0, 1] are scaled to 0-255, other values min-max scaled; large images are
    subsampled to at most ``max_pixels`` per side.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    step = max(1, int(np.ceil(max(img.shape[:2]) / max_pixels)))
    img = img[::step, ::step]
    if img.dtype != np.uint8:
        img = img.astype(np.float64)
        lo, hi = np.nanmin(img), np.nanmax(img)
        if not (lo >= 0 and hi <= 1):
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        img = np.clip(np.nan_to_num(img) * 255 + 0.5, 0, 255).astype(np.uint8)
    height, width = img.shape[:2]
    colour_type = {2: 0, 3: {3: 2, 4: 6}.get(img.shape[-1])}[img.ndim]
    rows = np.ascontiguousarray(img).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row
    png = (b"\x89PNG\r\n\x1a\n"
           + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
           + _png_chunk(b"IDAT", zlib.compress(raw, 9)) + _png_chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ---------------------------------------------------------------------------- payload
def _round4(values):
    """Values rounded to 4 significant digits, as a list for JSON (None for NaN).

    ``round(x / 10**e) * 10**e`` with an exact power of ten, so each result is the float
    nearest to its 4-digit decimal and prints as such.
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(x)
    finite = np.isfinite(x) & (x != 0)
    exponent = np.floor(np.log10(np.abs(x[finite]))).astype(int) - 3
    small = exponent < 0
    power = 10.0 ** np.abs(exponent)
    out[finite] = np.where(small, np.round(x[finite] * power) / power,
                           np.round(x[finite] / power) * power)
    result = out.tolist()
    for i in np.flatnonzero(~np.isfinite(x)):
        result[i] = None
    return result


def _histograms(Z, bins=_HIST_BINS):
    """Per-concept histograms of a view's nonzero activations over [min(0, low), high].

    ``Z`` is the atlas's CSC (entries by increasing activation within each column).
    Returns the (n_concepts, 2) ranges and the (n_concepts, bins) counts.
    """
    m = Z.shape[1]
    counts = np.diff(Z.indptr)
    filled = counts > 0
    low = np.zeros(m)
    high = np.ones(m)
    low[filled] = np.minimum(0.0, Z.data[Z.indptr[:-1][filled]])
    high[filled] = Z.data[Z.indptr[1:][filled] - 1]
    width = np.where(high > low, high - low, 1.0)
    columns = np.repeat(np.arange(m), counts)
    which = np.clip(((Z.data - low[columns]) / width[columns] * bins).astype(np.int64), 0, bins - 1)
    hist = np.bincount(columns * bins + which, minlength=m * bins).reshape(m, bins)
    return np.column_stack([low, high]), hist


def _column_values(column):
    """A table column for JSON: floats to 4 significant digits, other values as text."""
    if pd.api.types.is_float_dtype(column.dtype):
        return _round4(column.to_numpy(dtype=np.float64))
    if pd.api.types.is_integer_dtype(column.dtype):
        return [None if v is None or v is pd.NA else int(v) for v in column.astype(object)]
    return [None if v is None or v is pd.NA else str(v) for v in column.astype(object)]


def _example_payload(item, max_chars):
    if _is_image(item):
        return {"img": png_data_uri(item)}
    text = str(item)
    return {"text": text if len(text) <= max_chars else text[:max_chars - 1] + "\u2026"}


def _payload(atlas, *, n_examples, page_size, title, max_example_chars):
    names = [str(v) for v in atlas.view_names]
    table = atlas.table
    quantiles = list(DEFAULT_QUANTILES)
    per_view = []
    for Z in atlas.codes:
        ranges, hist = _histograms(Z)
        counts = np.diff(Z.indptr)
        # Top rows: the last n entries of each column; quantile rows: by rank in the column.
        tops, quants = [], []
        for concept in range(atlas.n_concepts):
            start, stop = Z.indptr[concept], Z.indptr[concept + 1]
            top = np.arange(stop - 1, max(start, stop - n_examples) - 1, -1)
            ranks = start + np.round(np.asarray(quantiles) * (stop - start - 1)).astype(int)
            tops.append(top)
            quants.append(ranks if stop > start else top[:0])
        top_index, quant_index = np.concatenate(tops), np.concatenate(quants)
        per_view.append(dict(
            counts=counts.tolist(), ranges=_round4(ranges.ravel()), hist=hist.tolist(),
            top_rows=Z.indices[top_index].tolist(), top_values=_round4(Z.data[top_index]),
            top_split=np.cumsum([len(t) for t in tops]).tolist(),
            q_rows=Z.indices[quant_index].tolist(), q_values=_round4(Z.data[quant_index]),
            q_split=np.cumsum([len(q) for q in quants]).tolist()))
    referenced = set()
    for view in per_view:
        referenced.update(view["top_rows"])
        referenced.update(view["q_rows"])
    cards = []
    for concept in range(atlas.n_concepts):
        views = []
        for view in per_view:
            t0 = view["top_split"][concept - 1] if concept else 0
            t1 = view["top_split"][concept]
            q0 = view["q_split"][concept - 1] if concept else 0
            q1 = view["q_split"][concept]
            n_active = view["counts"][concept]
            views.append({
                "n": n_active,
                "top": [list(p) for p in zip(view["top_rows"][t0:t1], view["top_values"][t0:t1])],
                "q": [list(p) for p in zip(quantiles, view["q_rows"][q0:q1],
                                           view["q_values"][q0:q1])],
                "h": ([view["ranges"][2 * concept], view["ranges"][2 * concept + 1],
                       view["hist"][concept]] if n_active else None),
            })
        cards.append({"v": views})
    if atlas.label_shares is not None:
        # The five labels with the largest shares of each concept's activation.
        order = np.argsort(-np.nan_to_num(atlas.label_shares, nan=-1.0), axis=1)[:, :5]
        label_names = atlas.label_classes.astype(str)[order].tolist()
        shares = np.take_along_axis(atlas.label_shares, order, axis=1)
        values = np.reshape(_round4(shares.ravel()), shares.shape).tolist()
        for concept, card in enumerate(cards):
            if np.isfinite(atlas.label_shares[concept]).all():
                card["l"] = [list(p) for p in zip(label_names[concept], values[concept])]
    examples = {}
    if atlas.examples is not None:
        examples = {str(r): _example_payload(atlas.examples[r], max_example_chars)
                    for r in sorted(referenced)}
    kind_codes = {k: i for i, k in enumerate(KINDS)}
    return {
        "title": title,
        "views": names,
        "n_samples": int(atlas.n_samples),
        "n_concepts": int(atlas.n_concepts),
        "page_size": int(page_size),
        "min_correlation": float(atlas.min_correlation),
        "kinds": list(KINDS),
        "kind": [kind_codes[k] for k in table["kind"].astype(str)],
        "frequency": [_round4(table[f"frequency_{name}"]) for name in names],
        "agreement": _round4(table["agreement"]),
        "quantiles": list(DEFAULT_QUANTILES),
        "table": _table_payload(atlas),
        "cards": cards,
        "examples": examples,
    }


def _json_for_script(payload):
    # Inside <script>, "</script>" or "<!--" in a user's text would end the block early.
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table_payload(atlas):
    """The table as columns of JSON values (the script renders one page of rows at a time)."""
    table = atlas.table
    columns = list(table.columns)
    return {
        "columns": ["concept"] + [str(c) for c in columns],
        "numeric": [True] + [bool(pd.api.types.is_numeric_dtype(table[c])
                                  and not isinstance(table[c].dtype, pd.CategoricalDtype))
                             for c in columns],
        "values": [list(range(atlas.n_concepts))] + [_column_values(table[c]) for c in columns],
    }


def _table_html(payload):
    head = "".join(f'<th data-type="{"num" if numeric else "text"}" title="sort">'
                   f"{html.escape(name)}</th>"
                   for name, numeric in zip(payload["columns"], payload["numeric"]))
    return f'<table id="concepts"><thead><tr>{head}</tr></thead><tbody></tbody></table>'


def write_page(atlas, path, *, n_examples=5, page_size=50, title="Concept atlas",
               max_example_chars=300):
    if not isinstance(n_examples, int) or n_examples < 1:
        raise ValueError(f"n_examples must be a positive int; got {n_examples!r}.")
    if not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be a positive int; got {page_size!r}.")
    payload = _payload(atlas, n_examples=n_examples, page_size=page_size, title=title,
                       max_example_chars=max_example_chars)
    counts = atlas.table["kind"].value_counts()
    summary = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in KINDS)
    view_options = "".join(f'<option value="{html.escape(str(v))}">{html.escape(str(v))}</option>'
                           for v in atlas.view_names)
    parts = {
        "TITLE": html.escape(title),
        "SUMMARY": html.escape(
            f"{atlas.n_concepts} concepts of views {', '.join(map(str, atlas.view_names))} "
            f"over {atlas.n_samples} rows: {summary}. Shared: cross-view correlation "
            f">= {atlas.min_correlation:g} on the paired rows; dead: frequency <= "
            f"{atlas.dead_frequency:g} in every view."),
        "VIEW_OPTIONS": view_options,
        "TABLE": _table_html(payload["table"]),
        "CSS": _CSS,
        "SCRIPT": _SCRIPT,
        "DATA": _json_for_script(payload),
    }
    # One pass over the template's own markers: text from the user is never re-scanned.
    page = re.sub(r"@@([A-Z_]+)@@", lambda match: parts[match.group(1)], _TEMPLATE)
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return str(path)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.2em;
color:#222;font-size:14px}
h1{font-size:1.4em;margin:0 0 .2em}
#summary{color:#555;margin-bottom:.8em}
#overview{display:flex;flex-wrap:wrap;gap:1em;margin-bottom:1em}
#overview figure{margin:0}
#overview figcaption{font-size:12px;color:#555;text-align:center}
#controls{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.5em 0}
#controls input[type=search]{width:16em}
.tablewrap{max-height:28em;overflow:auto;border:1px solid #ddd}
table#concepts{border-collapse:collapse;font-size:12px;white-space:nowrap}
#concepts th{position:sticky;top:0;background:#f3f3f3;cursor:pointer;padding:3px 6px;
border-bottom:1px solid #bbb;user-select:none}
#concepts th.asc::after{content:" \\25B2"}#concepts th.desc::after{content:" \\25BC"}
#concepts td{padding:2px 6px;border-bottom:1px solid #eee;text-align:right}
#concepts tbody tr{cursor:pointer}#concepts tbody tr:hover{background:#f5f9ff}
#concepts tr.current{background:#fff3c4}
.k-shared{color:#1b9e77;font-weight:600}.k-private{color:#d95f02;font-weight:600}
.k-dead{color:#999}
#cards{display:grid;grid-template-columns:1fr;gap:1em;margin-top:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.6em .8em;background:#fff}
.card.current{border-color:#e0a800;box-shadow:0 0 0 2px #ffe08a}
.card h2{font-size:1.05em;margin:.1em 0 .4em}
.views{display:grid;gap:.8em}
.view h3{font-size:.95em;margin:.2em 0}
.view ol{margin:.2em 0 .4em 1.4em;padding:0}
.view li{margin:.1em 0}
.act{color:#555;font-variant-numeric:tabular-nums}
.ex{color:#000}
.ex img{height:48px;vertical-align:middle;image-rendering:pixelated;border:1px solid #ccc}
.labels span{display:inline-block;margin-right:.8em}
.bar{display:inline-block;height:.7em;background:#4c72b0;margin-left:.3em;vertical-align:middle}
.muted{color:#888}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title><style>@@CSS@@</style></head>
<body>
<h1>@@TITLE@@</h1>
<div id="summary">@@SUMMARY@@</div>
<div id="overview"></div>
<div id="controls">
<input type="search" id="filter" placeholder="filter: text in any cell">
<label>kind <select id="kind"><option value="">all</option><option>shared</option>
<option>private</option><option>dead</option></select></label>
<label>private to <select id="view"><option value="">any view</option>@@VIEW_OPTIONS@@
</select></label>
<label>per page <select id="pagesize"><option>20</option><option>50</option><option>100</option>
<option>500</option><option value="all">all</option></select></label>
<button id="prev" type="button">&#9664; prev</button><span id="pageinfo"></span>
<button id="next" type="button">next &#9654;</button>
</div>
<div class="tablewrap">@@TABLE@@</div>
<div id="cards"></div>
<script type="application/json" id="atlas-data">@@DATA@@</script>
<script>@@SCRIPT@@</script>
</body></html>
"""

_SCRIPT = r"""
(function () {
"use strict";
var started = Math.round(performance.now());
var data = JSON.parse(document.getElementById("atlas-data").textContent);
var COLOURS = {shared: "#1b9e77", private: "#d95f02", dead: "#999999"};
var SVG = "http://www.w3.org/2000/svg";
var table = document.getElementById("concepts");
var tbody = table.tBodies[0];
var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
var T = data.table, nConcepts = data.n_concepts;
var KIND = T.columns.indexOf("kind"), VIEW = T.columns.indexOf("view");
var order = [];
for (var r = 0; r < nConcepts; r++) order.push(r);
var state = {col: null, dir: 1, page: 0, size: data.page_size, shown: order};
var filterBox = document.getElementById("filter"), kindBox = document.getElementById("kind");
var viewBox = document.getElementById("view"), sizeBox = document.getElementById("pagesize");

function el(tag, attrs, text) {
  var node = tag.indexOf("svg:") === 0 ? document.createElementNS(SVG, tag.slice(4))
                                        : document.createElement(tag);
  for (var key in (attrs || {})) node.setAttribute(key, attrs[key]);
  if (text !== undefined) node.textContent = text;
  return node;
}
function fmt(x) { return x === null || x === undefined ? "" : String(+(+x).toPrecision(4)); }
function cellText(concept, c) {
  var v = T.values[c][concept];
  return v === null || v === undefined ? "" : (T.numeric[c] ? fmt(v) : String(v));
}
// What the filter box searches: the text of every cell of a concept's row.
var haystack = order.map(function (concept) {
  return T.values.map(function (_, c) { return cellText(concept, c); }).join(" ").toLowerCase();
});

// ------------------------------------------------------------------ overview plots
function logAxis(n) { var lo = Math.log10(0.5 / n); return function (f) {
  return (Math.log10(Math.max(f || 0, 0.5 / n)) - lo) / -lo; }; }
function scatter(a, b) {
  var size = 230, pad = 46, scale = logAxis(data.n_samples);
  var svg = el("svg:svg", {width: size + pad + 8, height: size + pad + 8, role: "img"});
  svg.appendChild(el("svg:rect", {x: pad, y: 4, width: size, height: size, fill: "#fafafa",
                                   stroke: "#bbb"}));
  var paths = {};
  data.kinds.forEach(function (k) { paths[k] = []; });
  for (var c = 0; c < data.n_concepts; c++) {
    var x = pad + scale(data.frequency[a][c]) * size, y = 4 + size - scale(data.frequency[b][c]) * size;
    paths[data.kinds[data.kind[c]]].push("M" + x.toFixed(1) + " " + y.toFixed(1) + "h0");
  }
  data.kinds.forEach(function (k) {
    if (paths[k].length) svg.appendChild(el("svg:path", {d: paths[k].join(""), stroke: COLOURS[k],
      "stroke-width": 4, "stroke-linecap": "round", "stroke-opacity": 0.6, "class": "pt-" + k}));
  });
  for (var e = 0; Math.pow(10, -e) >= 0.5 / data.n_samples; e++) {
    var t = scale(Math.pow(10, -e)), tick = e === 0 ? "1" : "1e-" + e;
    svg.appendChild(el("svg:text", {x: pad + t * size, y: size + 18, "font-size": 10,
                                     "text-anchor": "middle"}, tick));
    svg.appendChild(el("svg:text", {x: pad - 3, y: 4 + size - t * size + 3, "font-size": 10,
                                     "text-anchor": "end"}, tick));
  }
  svg.appendChild(el("svg:text", {x: pad + size / 2, y: size + 32, "font-size": 11,
    "text-anchor": "middle"}, "frequency in " + data.views[a]));
  svg.appendChild(el("svg:text", {x: 10, y: 4 + size / 2, "font-size": 11, "text-anchor": "middle",
    transform: "rotate(-90 10 " + (4 + size / 2) + ")"}, "frequency in " + data.views[b]));
  return svg;
}
function agreementHistogram() {
  var width = 300, height = 200, pad = 30, bins = 40, counts = {}, most = 1;
  data.kinds.forEach(function (k) { counts[k] = new Array(bins).fill(0); });
  data.agreement.forEach(function (v, c) {
    if (v === null) return;
    var b = Math.min(bins - 1, Math.max(0, Math.floor((v + 1) / 2 * bins)));
    counts[data.kinds[data.kind[c]]][b] += 1;
  });
  for (var b = 0; b < bins; b++) {
    most = Math.max(most, data.kinds.reduce(function (s, k) { return s + counts[k][b]; }, 0));
  }
  var svg = el("svg:svg", {width: width + pad + 8, height: height + 40, role: "img"});
  for (b = 0; b < bins; b++) {
    var base = 0;
    data.kinds.forEach(function (k) {
      var h = counts[k][b] / most * height;
      if (h > 0) svg.appendChild(el("svg:rect", {x: pad + b * width / bins, y: 4 + height - base - h,
        width: width / bins - 1, height: h, fill: COLOURS[k]}));
      base += h;
    });
  }
  var cut = pad + (data.min_correlation + 1) / 2 * width;
  svg.appendChild(el("svg:line", {x1: cut, x2: cut, y1: 4, y2: 4 + height, stroke: "#000",
                                   "stroke-dasharray": "4 3"}));
  [-1, -0.5, 0, 0.5, 1].forEach(function (v) {
    svg.appendChild(el("svg:text", {x: pad + (v + 1) / 2 * width, y: height + 18, "font-size": 10,
                                     "text-anchor": "middle"}, String(v)));
  });
  svg.appendChild(el("svg:text", {x: pad + width / 2, y: height + 32, "font-size": 11,
    "text-anchor": "middle"}, "cross-view agreement (correlation); max bar " + most));
  return svg;
}
(function overview() {
  var box = document.getElementById("overview");
  for (var a = 0; a < data.views.length; a++) for (var b = a + 1; b < data.views.length; b++) {
    var fig = el("figure");
    fig.appendChild(scatter(a, b));
    fig.appendChild(el("figcaption", {}, "frequency per view (log), coloured by kind"));
    box.appendChild(fig);
  }
  var hist = el("figure");
  hist.appendChild(agreementHistogram());
  var legend = el("figcaption");
  data.kinds.forEach(function (k) {
    var n = data.kind.filter(function (x) { return data.kinds[x] === k; }).length;
    var s = el("span", {style: "color:" + COLOURS[k] + ";margin-right:1em"}, "\u25A0 " + k + " " + n);
    legend.appendChild(s);
  });
  hist.appendChild(legend);
  box.appendChild(hist);
})();

// ------------------------------------------------------------------ cards
function histogram(h) {
  var width = 240, height = 60;
  var svg = el("svg:svg", {width: width, height: height + 14, role: "img", "class": "hist"});
  if (!h) { svg.appendChild(el("svg:text", {x: 4, y: 20, "font-size": 11, fill: "#888"}, "never fires")); return svg; }
  var counts = h[2], most = Math.max.apply(null, counts.concat([1])), w = width / counts.length;
  counts.forEach(function (n, i) {
    var bh = n / most * height;
    svg.appendChild(el("svg:rect", {x: i * w, y: height - bh, width: Math.max(w - 1, 1), height: bh,
                                     fill: "#4c72b0"}));
  });
  svg.appendChild(el("svg:text", {x: 0, y: height + 12, "font-size": 10}, fmt(h[0])));
  svg.appendChild(el("svg:text", {x: width, y: height + 12, "font-size": 10, "text-anchor": "end"}, fmt(h[1])));
  return svg;
}
function example(row) {
  var item = data.examples[String(row)];
  var span = el("span", {"class": "ex"});
  if (!item) return span;
  if (item.img) { span.appendChild(el("img", {src: item.img, alt: "row " + row})); }
  else { span.textContent = " " + item.text; }
  return span;
}
function exampleItem(prefix, row, act) {
  var li = el("li");
  li.appendChild(el("span", {"class": "act"}, prefix + "row " + row + " (" + fmt(act) + ")"));
  li.appendChild(example(row));
  return li;
}
function card(concept) {
  var info = data.cards[concept], kind = T.values[KIND][concept], view = T.values[VIEW][concept];
  var box = el("div", {"class": "card", id: "card-" + concept, "data-concept": concept});
  var title = "Concept " + concept + ": ";
  var h2 = el("h2", {}, title);
  h2.appendChild(el("span", {"class": "k-" + kind}, kind + (view ? " to " + view : "")));
  box.appendChild(h2);
  if (info.l) {
    var labels = el("div", {"class": "labels"}, "labels, by share of the activation: ");
    info.l.forEach(function (pair) {
      var s = el("span", {}, pair[0] + ": " + Math.round(100 * pair[1]) + "%");
      s.appendChild(el("span", {"class": "bar", style: "width:" + Math.round(pair[1] * 60) + "px"}));
      labels.appendChild(s);
    });
    box.appendChild(labels);
  }
  var views = el("div", {"class": "views", style: "grid-template-columns:repeat(" + data.views.length + ",1fr)"});
  info.v.forEach(function (v, i) {
    var col = el("div", {"class": "view"});
    col.appendChild(el("h3", {}, data.views[i] + ": fires on " + v.n + " rows (" +
                               fmt(100 * v.n / data.n_samples) + "%)"));
    col.appendChild(histogram(v.h));
    if (v.top.length) {
      col.appendChild(el("div", {"class": "muted"}, "top rows"));
      var ol = el("ol");
      v.top.forEach(function (t) { ol.appendChild(exampleItem("", t[0], t[1])); });
      col.appendChild(ol);
      col.appendChild(el("div", {"class": "muted"}, "rows at activation quantiles"));
      var ul = el("ul");
      v.q.forEach(function (t) { ul.appendChild(exampleItem("q" + fmt(t[0]) + ": ", t[1], t[2])); });
      col.appendChild(ul);
    }
    views.appendChild(col);
  });
  box.appendChild(views);
  return box;
}

// ------------------------------------------------------------------ table
function sortRows(col) {
  state.dir = state.col === col ? -state.dir : 1;
  state.col = col;
  var values = T.values[col], numeric = T.numeric[col], dir = state.dir;
  var keyed = order.map(function (concept, i) {
    var v = values[concept];
    return [v === null || v === undefined ? null : (numeric ? v : String(v).toLowerCase()), i, concept];
  });
  keyed.sort(function (p, q) {
    if (p[0] === null || q[0] === null) return p[0] === q[0] ? p[1] - q[1] : (p[0] === null ? 1 : -1);
    if (p[0] < q[0]) return -dir;
    if (p[0] > q[0]) return dir;
    return p[1] - q[1];
  });
  order = keyed.map(function (p) { return p[2]; });
  headers.forEach(function (h, i) {
    h.classList.toggle("asc", i === col && dir === 1);
    h.classList.toggle("desc", i === col && dir === -1);
    h.setAttribute("aria-sort", i === col ? (dir === 1 ? "ascending" : "descending") : "none");
  });
  state.page = 0;
  filterRows();
}
function filterRows() {
  var text = filterBox.value.trim().toLowerCase(), kind = kindBox.value, view = viewBox.value;
  state.shown = order.filter(function (concept) {
    return (!kind || T.values[KIND][concept] === kind) &&
           (!view || String(T.values[VIEW][concept]) === view) &&
           (!text || haystack[concept].indexOf(text) >= 0);
  });
  render();
}
function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
             .replace(/"/g, "&quot;");
}
// Rows as HTML text: for thousands of rows, one innerHTML is much faster than DOM calls.
function tableRow(concept) {
  var kind = T.values[KIND][concept], view = T.values[VIEW][concept];
  var cells = "";
  for (var c = 0; c < T.columns.length; c++) {
    var text = escapeHtml(cellText(concept, c));
    cells += c === KIND ? '<td class="k-' + text + '">' + text + "</td>" : "<td>" + text + "</td>";
  }
  return '<tr data-concept="' + concept + '" data-kind="' + kind + '" data-view="' +
         escapeHtml(view === null ? "" : String(view)) + '">' + cells + "</tr>";
}
function render() {
  var size = state.size === "all" ? Math.max(1, state.shown.length) : state.size;
  var pages = Math.max(1, Math.ceil(state.shown.length / size));
  state.page = Math.min(state.page, pages - 1);
  var start = state.page * size, page = state.shown.slice(start, start + size);
  tbody.innerHTML = page.map(tableRow).join("");
  document.getElementById("pageinfo").textContent = " page " + (state.page + 1) + " of " + pages +
    " (" + state.shown.length + " of " + nConcepts + " concepts) ";
  cardQueue = page.slice();
  document.getElementById("cards").textContent = "";
  moreCards();
}
// Cards are built CARD_BATCH at a time: the first ones with the page, the next ones when
// the reader scrolls to the end of the cards (or clicks a row whose card is not built yet).
var CARD_BATCH = 50, cardQueue = [];
var sentinel = el("div", {id: "more-cards", "class": "muted"});
function moreCards() {
  var box = document.getElementById("cards"), batch = cardQueue.splice(0, CARD_BATCH);
  var cards = document.createDocumentFragment();
  batch.forEach(function (concept) { cards.appendChild(card(concept)); });
  box.appendChild(cards);
  sentinel.textContent = cardQueue.length ? cardQueue.length + " more cards below" : "";
  box.appendChild(sentinel);
}
if ("IntersectionObserver" in window) {
  new IntersectionObserver(function (entries) {
    if (entries[0].isIntersecting && cardQueue.length) moreCards();
  }).observe(sentinel);
}
sentinel.addEventListener("click", function () { if (cardQueue.length) moreCards(); });
headers.forEach(function (h, i) { h.addEventListener("click", function () { sortRows(i); }); });
var timer = null;
filterBox.addEventListener("input", function () {
  clearTimeout(timer); timer = setTimeout(function () { state.page = 0; filterRows(); }, 150);
});
[kindBox, viewBox].forEach(function (box) {
  box.addEventListener("change", function () { state.page = 0; filterRows(); });
});
sizeBox.value = String(state.size);
if (sizeBox.value !== String(state.size)) {
  sizeBox.appendChild(el("option", {}, String(state.size))); sizeBox.value = String(state.size);
}
sizeBox.addEventListener("change", function () {
  state.size = sizeBox.value === "all" ? "all" : +sizeBox.value; state.page = 0; render(); });
document.getElementById("prev").addEventListener("click", function () {
  if (state.page > 0) { state.page -= 1; render(); } });
document.getElementById("next").addEventListener("click", function () {
  if (state.size !== "all" && (state.page + 1) * state.size < state.shown.length) {
    state.page += 1; render(); } });
tbody.addEventListener("click", function (event) {
  var row = event.target.closest("tr");
  if (!row) return;
  Array.prototype.forEach.call(document.querySelectorAll(".current"), function (n) { n.classList.remove("current"); });
  row.classList.add("current");
  while (!document.getElementById("card-" + row.dataset.concept) && cardQueue.length) moreCards();
  var target = document.getElementById("card-" + row.dataset.concept);
  if (target) { target.classList.add("current"); target.scrollIntoView({behavior: "smooth", block: "start"}); }
});
render();
document.body.setAttribute("data-script-start-ms", started);
document.body.setAttribute("data-ready-ms", Math.round(performance.now()));
})();
"""
