"""
A SockJS endpoint as a twisted.web resource, and a ready Site serving one.

L{SockJSResource} mounts anywhere in a resource tree;
L{SockJSFactory} builds the whole Site around one.
"""

from ._resource import SockJSResource
from ._site import SockJSFactory

__all__ = ["SockJSResource", "SockJSFactory"]
