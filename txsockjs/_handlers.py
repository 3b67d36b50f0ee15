# -*- test-case-name: tests.test_tap -*-
"""
Dotted names to protocol factories: how C{twistd sockjs} (and the
multiplexer, for its channels) turns what it is given into an
C{IProtocolFactory}.
"""

from __future__ import annotations

import importlib.util
from typing import Optional, Type, TypeGuard

from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.python import reflect

from .bus import IMessageBus, bind_bus

__all__ = [
    "ConfigurationError",
    "HandlerError",
    "as_factory",
    "simple_factory",
    "load_handler",
    "load_object",
    "named_object",
    "describe",
]


class ConfigurationError(Exception):
    """
    The command line names something that cannot be served. The message is
    one line, fit to show to the person who typed it.
    """


class HandlerError(ConfigurationError):
    """
    A dotted name could not be turned into what it should name.
    """


def named_object(dotted: str) -> object:
    """
    The object C{dotted} names.

    @raise ValueError: it does not import or names nothing; the message says
        why, in words fit for the person who typed the name (without the
        name: the caller says where it came from).
    """
    if not isinstance(dotted, str) or not dotted.strip():
        raise ValueError("an empty dotted name")
    dotted = dotted.strip()
    try:
        found: object = reflect.namedAny(dotted)
    except reflect.ModuleNotFound as e:
        raise ValueError(str(e)) from None
    except reflect.ObjectNotFound as e:
        top = dotted.split(".")[0]
        try:
            importable = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            importable = False
        if not importable:
            raise ValueError(
                f"no module named {top!r} on sys.path; "
                f"add the folder that holds it to PYTHONPATH "
                f"(PYTHONPATH=. when it is in the current directory)"
            ) from None
        raise ValueError(str(e)) from None
    except AttributeError as e:
        # the module imported, the name is not in it
        raise ValueError(str(e)) from None
    except reflect.InvalidName as e:
        raise ValueError(f"not a dotted name ({e})") from None
    except Exception as e:
        # the module exists but raised while it was imported
        raise ValueError(f"importing it raised {type(e).__name__}: {e}") from None
    return found


def load_object(dotted: str, what: str = "handler") -> object:
    """
    The object C{dotted} names.

    @raise HandlerError: it does not import or names nothing; the message
        starts with C{what} and the name.
    """
    try:
        return named_object(dotted)
    except ValueError as e:
        if not isinstance(dotted, str) or not dotted.strip():
            raise HandlerError(f"{what}: {e}") from None
        raise HandlerError(f"{what} {dotted.strip()!r}: {e}") from None


def _is_protocol_class(obj: object) -> TypeGuard[Type[Protocol]]:
    # (a class that only declares IProtocol is taken as one too)
    return isinstance(obj, type) and (
        issubclass(obj, Protocol) or IProtocol.implementedBy(obj)
    )


def _is_factory_class(obj: object) -> TypeGuard[type]:
    return isinstance(obj, type) and (
        issubclass(obj, Factory) or IProtocolFactory.implementedBy(obj)
    )


def simple_factory(obj: object) -> Optional[IProtocolFactory]:
    """
    C{obj} when it is a protocol factory, a factory for it when it is a
    protocol class, else C{None}: the coercion that needs no call.
    """
    if IProtocolFactory.providedBy(obj):
        return obj
    if _is_protocol_class(obj):
        return Factory.forProtocol(obj)
    return None


def as_factory(obj: object, name: str = "handler") -> IProtocolFactory:
    """
    Turn what a handler name designates into a protocol factory.

    @param obj: a factory, a factory class, a protocol class, or a callable
        returning one of those.
    @param name: how to refer to C{obj} in error messages.

    @raise HandlerError: C{obj} is none of those.
    """
    if IProtocolFactory.providedBy(obj):
        return obj
    if _is_factory_class(obj):
        try:
            made = obj()
        except Exception as e:
            raise HandlerError(
                f"{name}: the factory class {obj.__qualname__} could not be "
                f"made with no arguments: {type(e).__name__}: {e}"
            ) from None
        return as_factory(made, name)
    if _is_protocol_class(obj):
        return Factory.forProtocol(obj)
    if isinstance(obj, type):
        raise HandlerError(
            f"{name}: the class {obj.__qualname__} is neither a protocol "
            "nor a protocol factory"
        )
    if callable(obj):
        try:
            made = obj()
        except Exception as e:
            raise HandlerError(
                f"{name}: calling it raised {type(e).__name__}: {e}"
            ) from None
        if IProtocolFactory.providedBy(made) or _is_protocol_class(made):
            return as_factory(made, name)
        raise HandlerError(
            f"{name}: calling it returned {describe(made)}, "
            "not a protocol factory"
        )
    raise HandlerError(
        f"{name} is {describe(obj)}, not a protocol factory, "
        "a protocol class or a callable"
    )


def describe(obj: object) -> str:
    """
    C{obj} in a few words for an error message: its type and a short repr.
    """
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def load_handler(dotted: str, bus: Optional[IMessageBus] = None) -> IProtocolFactory:
    """
    The protocol factory a C{--handler} or C{--mount} dotted name designates;
    a callable taking a C{bus} argument is called with C{bus}.

    @raise HandlerError: with a one-line explanation.
    """
    obj = load_object(dotted, "handler")
    if bus is not None:
        obj = bind_bus(obj, bus)
    return as_factory(obj, f"handler {dotted.strip()!r}")


