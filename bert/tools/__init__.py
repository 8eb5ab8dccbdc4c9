"""What a student uses around the model, not the model: the tools beside the reading order.

    fill_mask.py fill in the blank: the top-k tokens at each [MASK], shaped as transformers' fill-mask pipeline;
                 `top_k`, the short form the demos print; the CLI `python -m bert.tools.fill_mask --model DIR TEXT`
    predict.py   predict one text: a fine-tuned classifier's label and probability, or a tagger's entities
                 (character offsets, any length); the CLI `python -m bert.tools.predict --model DIR TEXT`
    timing.py    measuring code on a noisy machine: interleaved timing, medians, per-round ratios, peak memory
    fonts.py     Chinese labels in matplotlib figures (a CJK font from a PyPI package)
    articles.py  the articles' own code, read at run time and made runnable here and on transformers
    explore.py   the attention explorer: one self-contained HTML page (explorer.js, explorer.css) with the head,
                 model and formula views of any of our models (`python -m bert.explore`)
    browser.py   a headless Chromium with the network refused, for the explorer's tests and benchmark

None of them is imported by the model's files; import each module by name (`from bert.tools.timing import
interleaved`). The old paths `bert.timing`, `bert.fonts` and `bert.articles` keep working (the notebooks use them).
"""
