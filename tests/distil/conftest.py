"""Tests of tiny models run on one thread (the `one_thread` fixture of tests/conftest.py), for every test here."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield
