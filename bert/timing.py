"""Moved to bert/tools/timing.py; this module keeps old imports working (notebooks)."""

from .tools.timing import *  # noqa: F401,F403
from .tools.timing import __all__  # noqa: F401
