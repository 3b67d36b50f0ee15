# -*- test-case-name: tests.test_tap -*-
"""
The twisted.web resource tree that holds SockJS endpoints at their
prefixes, for C{twistd sockjs} and the C{sockjs:} endpoint.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple

from twisted.web import resource as web_resource
from twisted.web import static

from .resource import Folder

__all__ = ["build_root"]


def _segment(name: str) -> bytes:
    return name.encode("utf-8")


def build_root(
    mounts: Sequence[Tuple[Tuple[str, ...], Any]], static_dir: Optional[str] = None
) -> web_resource.Resource:
    """
    The resource tree holding each C{(segments, resource)} of C{mounts}, with
    C{static_dir} (if any) served around them.
    """
    for segments, leaf in mounts:
        if segments == ():
            return leaf
    root: web_resource.Resource
    root = static.File(static_dir) if static_dir else Folder()
    for segments, leaf in mounts:
        node = root
        for depth, name in enumerate(segments[:-1]):
            child = node.children.get(_segment(name))
            if child is None:
                path = (
                    os.path.join(static_dir, *segments[: depth + 1])
                    if static_dir
                    else None
                )
                child = (
                    static.File(path)
                    if path and os.path.isdir(path)
                    else Folder()
                )
                node.putChild(_segment(name), child)
            node = child
        node.putChild(_segment(segments[-1]), leaf)
    return root
