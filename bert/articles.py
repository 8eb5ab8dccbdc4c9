"""Moved to bert/tools/articles.py; this module keeps old imports working (notebooks)."""

from .tools.articles import *  # noqa: F401,F403
from .tools.articles import __all__  # noqa: F401
