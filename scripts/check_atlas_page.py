"""Open atlas pages in a real headless Chromium and check them through the DOM.

Not part of the test suite (Chromium is not in CI); the suite parses the page in Python
(tests/test_atlas_html.py). Needs Debian's chromium and chromium-driver and selenium::

    apt-get install -y chromium chromium-driver && pip install selenium
    PYTHONPATH=$PWD python scripts/check_atlas_page.py --out /tmp/atlas_check

Three pages: a small CoupledSAE's atlas on make_platonic (with private concepts), one of
8192 concepts over 20,000 rows built from random sparse codes (the scale the page must stay
usable at), and the BBC News atlas of the user guide (``--docs-screenshot`` saves the
picture of docs/atlas.rst). For each page the script checks that the table has one row per
concept, that one page of rows and cards is shown, that clicking a numeric header sorts the
rows (ascending, then descending, in the DOM order too), that the kind filter keeps only
that kind, that the page loaded nothing from outside and logged no error; it saves a
screenshot of each page (look at them) and prints one line per check.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator


def small_atlas():
    import torch

    from skcosae import CoupledSAE
    from skcosae.atlas import concept_atlas
    from skcosae.datasets import make_platonic

    torch.set_num_threads(1)
    Xs, y, _ = make_platonic(n_samples=1500, n_concepts=8, n_active=2, view_dims=24,
                             n_private=4, linear=True, noise=(0.01, 0.02), idiosyncrasy=0.0,
                             view_names=["vit", "dino"], random_state=0)
    sae = CoupledSAE(n_concepts=24, k=5, max_epochs=12, batch_size=64, learning_rate=1e-2,
                     losses={"rec": 1, "cc": 1}, view_names=["vit", "dino"],
                     random_state=0).fit(Xs)
    examples = [f"synthetic row {r}, class {y[r]}" for r in range(len(y))]
    return concept_atlas(sae, Xs, labels=y, examples=examples)


def bbc_atlas():
    """The atlas of the user guide (docs/atlas.rst): BBC News, MiniLM against TF-IDF."""
    import torch

    from skcosae import CoupledSAE
    from skcosae.atlas import concept_atlas
    from skcosae.datasets import load_bbc_news

    torch.set_num_threads(1)
    bbc = load_bbc_news(views=["minilm_l6", "tfidf_lsa"])
    topics = np.asarray(bbc.target_names)[bbc.target]
    sae = CoupledSAE(n_concepts=128, k=8, losses={"rec": 1, "cc": 1}, max_epochs=20,
                     view_names=bbc.view_names, random_state=0).fit(bbc.data)
    return concept_atlas(sae, bbc.data, labels=topics, examples=bbc.doc_ids)


class _Codes(BaseEstimator):
    """A stand-in fitted estimator for codes given directly (names and width only)."""

    def fit(self, names, n_concepts):
        self.view_names_, self.n_concepts_ = names, n_concepts
        return self


def large_atlas(n=20_000, m=8192, k=32, seed=0):
    from skcosae.atlas import concept_atlas

    rng = np.random.default_rng(seed)
    shared = sp.random(n, m, density=k / m, random_state=rng, format="csr", dtype=np.float32)
    other = shared.copy()
    other.data = other.data * rng.uniform(0.5, 1.5, other.nnz).astype(np.float32)
    # Half of the concepts fire on unrelated rows in the second view: private ones.
    noise = sp.random(n, m, density=k / m, random_state=rng, format="csc", dtype=np.float32)
    other = sp.hstack([other.tocsc()[:, : m // 2], noise[:, m // 2:]]).tocsr()
    labels = rng.integers(0, 10, n)
    return concept_atlas(_Codes().fit(["a", "b"], m), codes=[shared, other], labels=labels,
                         examples=[f"item {r}" for r in range(n)])


def check_page(driver, path, atlas, shot, report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def check(name, ok, detail=""):
        report.append(ok)
        print(f"  {'ok  ' if ok else 'FAIL'} {name} {detail}")

    def rows_shown():
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('#concepts tbody tr'))"
            ".map(r => +r.dataset.concept)")

    start = time.perf_counter()
    driver.get(Path(path).resolve().as_uri())
    loaded = time.perf_counter() - start
    body = driver.find_element(By.TAG_NAME, "body")
    started, ready = (body.get_attribute(f"data-{k}-ms") for k in ("script-start", "ready"))
    page_size = int(Select(driver.find_element(By.ID, "pagesize")).first_selected_option.text)
    shown, cards = rows_shown(), len(driver.find_elements(By.CSS_SELECTOR, "#cards .card"))
    expected = min(page_size, atlas.n_concepts)
    check("first page: one page of rows and cards", len(shown) == expected == cards,
          f"({len(shown)} rows, {cards} cards, page size {page_size}; script ran from "
          f"{started} to {ready} ms after navigation, load returned after {loaded:.1f} s)")
    svgs = len(driver.find_elements(By.CSS_SELECTOR, "#cards svg.hist"))
    check("a histogram per view on each card", svgs == cards * len(atlas.view_names),
          f"({svgs} histograms)")

    start = time.perf_counter()
    Select(driver.find_element(By.ID, "pagesize")).select_by_visible_text("all")
    shown = rows_shown()
    check("page size 'all': one table row per concept",
          sorted(shown) == list(range(atlas.n_concepts)),
          f"({len(shown)} rows, {atlas.n_concepts} concepts, {time.perf_counter() - start:.1f} s)")

    column = f"frequency_{atlas.view_names[0]}"
    headers = driver.find_elements(By.CSS_SELECTOR, "#concepts thead th")
    position = [h.text for h in headers].index(column)
    header = headers[position]
    values = atlas.table[column].to_numpy()
    for direction in ("ascending", "descending"):
        header.click()
        shown = rows_shown()
        steps = np.diff(values[shown])
        ok = len(shown) == atlas.n_concepts and (
            np.all(steps >= 0) if direction == "ascending" else np.all(steps <= 0))
        cells = driver.execute_script(
            "return Array.from(document.querySelectorAll('#concepts tbody tr'))"
            f".slice(0, 3).map(r => r.cells[{position}].textContent)")
        check(f"sorting by {column} ({direction}, the whole table in DOM order)", bool(ok),
              f"(first rows: concepts {shown[:3]}, cells {cells})")
    Select(driver.find_element(By.ID, "pagesize")).select_by_visible_text(str(page_size))

    Select(driver.find_element(By.ID, "kind")).select_by_visible_text("shared")
    time.sleep(0.3)
    kinds = driver.execute_script(
        "return Array.from(document.querySelectorAll('#concepts tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.dataset.kind)")
    n_shared = int((atlas.table["kind"] == "shared").sum())
    info = driver.find_element(By.ID, "pageinfo").text
    check("kind filter keeps the shared concepts only",
          set(kinds) <= {"shared"} and f"({n_shared} of {atlas.n_concepts}" in info, f"[{info}]")
    Select(driver.find_element(By.ID, "kind")).select_by_visible_text("all")
    header.click()  # back to ascending, for the screenshot

    external = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(u => !u.startsWith('data:'))")
    check("nothing loaded from outside the file", not external, str(external[:3]))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check("no error in the console", not errors, str(errors[:2]))
    driver.save_screenshot(str(shot))
    print(f"  screenshot: {shot}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/atlas_check")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--pages", nargs="+", default=["small", "large", "bbc"],
                        choices=["small", "large", "bbc"])
    parser.add_argument("--docs-screenshot", metavar="PNG",
                        help="also save the BBC page's first screen here (docs/_static/...)")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1600",
                 f"--user-data-dir={out / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    report = []
    try:
        builders = {"small": small_atlas, "large": large_atlas, "bbc": bbc_atlas}
        for name in args.pages:
            build = builders[name]
            start = time.perf_counter()
            atlas = build()
            built = time.perf_counter() - start
            start = time.perf_counter()
            path = atlas.to_html(out / f"atlas_{name}.html")
            written = time.perf_counter() - start
            size = Path(path).stat().st_size / 1e6
            print(f"{name}: {atlas} -- atlas {built:.1f} s, page {written:.1f} s, {size:.1f} MB")
            check_page(driver, path, atlas, out / f"atlas_{name}.png", report)
            if name == "bbc" and args.docs_screenshot:
                driver.set_window_size(1280, 1450)
                driver.get(Path(path).resolve().as_uri())
                driver.save_screenshot(args.docs_screenshot)
                print(f"  docs screenshot: {args.docs_screenshot}")
    finally:
        driver.quit()
    print(f"{sum(report)} of {len(report)} checks passed")
    return 0 if all(report) else 1


if __name__ == "__main__":
    sys.exit(main())
