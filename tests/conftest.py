"""Shared pytest set-up: offline Hugging Face hub, the shared data folder, and skipping `gpu` tests without CUDA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing can be downloaded; transformers must not try

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
pytest_plugins = ["tests.exercises"]  # `make check EX=…`: --exercise grades a student's function (tests/exercises.py)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder `<repo>/../shared/data` (SST-2, WikiText-2, CoNLL-2003); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA} (expected <repo>/../shared/data)")
    return SHARED_DATA


@pytest.fixture
def one_thread():
    """Run the test on one torch thread (restored afterwards): tiny models gain nothing from two, and on a busy
    machine two threads that wait for each other make them many times slower. Use it with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `gpu` when CUDA is not available (run them on a GPU machine with `make test-gpu`)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
