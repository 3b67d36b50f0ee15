"""
txsockjs: the metadata lives in pyproject.toml. This file only keeps
C{python setup.py ...} workflows (and tools that look for a setup.py)
working; it does nothing of its own.
"""

from setuptools import setup

setup()
