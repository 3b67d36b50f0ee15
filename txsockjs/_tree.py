# -*- test-case-name: tests.test_tap -*-
"""
The twisted.web resource tree that holds SockJS endpoints at their
prefixes, for C{twistd sockjs}, the C{sockjs:} endpoint and
C{SockJSFactory}.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

from twisted.web import resource as web_resource
from twisted.web.iweb import IRequest
from twisted.web.pages import notFound

__all__ = ["build_root", "Folder"]


class Folder(web_resource.Resource):
    """
    A node of a resource tree: its children, and 404 for anything else
    (without the deprecated default of C{Resource.getChild}).
    """

    def __init__(self) -> None:
        web_resource.Resource.__init__(self)

    def getChild(self, path: bytes, request: IRequest) -> web_resource.IResource:
        return notFound()

    def render(self, request: IRequest) -> bytes:
        answer: bytes = notFound().render(request)
        return answer


def _segment(name: str) -> bytes:
    return name.encode("utf-8")


def build_root(
    mounts: Sequence[Tuple[Tuple[str, ...], web_resource.Resource]],
    static_dir: Optional[str] = None,
) -> web_resource.Resource:
    """
    The resource tree holding each C{(segments, resource)} of C{mounts}, with
    C{static_dir} (if any) served around them.
    """
    for segments, leaf in mounts:
        if segments == ():
            return leaf
    # (imported only for a static directory: importing it warns of
    # deprecations in twisted.web)
    from twisted.web import static

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
