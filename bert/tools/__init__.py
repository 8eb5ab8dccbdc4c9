"""What a student uses around the model, not the model: the tools beside the reading order.

    timing.py    measuring code on a noisy machine: interleaved timing, medians, per-round ratios, peak memory
    fonts.py     Chinese labels in matplotlib figures (a CJK font from a PyPI package)
    articles.py  the articles' own code, read at run time and made runnable here and on transformers
    explore.py   the attention explorer: one self-contained HTML page (explorer.js, explorer.css) with the head,
                 model and formula views of any of our models (`python -m bert.explore`)
    browser.py   a headless Chromium with the network refused, for the explorer's tests and benchmark

The tools the next issues add live here too: the fill-in-the-blank. None of them is
imported by the model's files; import each module by name (`from bert.tools.timing import interleaved`).
The old paths `bert.timing`, `bert.fonts` and `bert.articles` keep working (the notebooks use them).
"""
