"""Moved to bert/tools/fonts.py; this module keeps old imports working (notebooks)."""

from .tools.fonts import *  # noqa: F401,F403
from .tools.fonts import __all__  # noqa: F401
