"""Tests of tiny models run on one thread: their matrices are too small to gain from two, and on a busy machine
two threads that wait for each other make them many times slower. (The previous setting is restored.)"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
