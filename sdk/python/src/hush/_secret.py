"""The :class:`Secret` wrapper: a value that never prints."""

from __future__ import annotations

from typing import Any, NoReturn, Union

from .errors import NotUtf8Error


class Secret:
    """A secret's value. ``repr`` is ``Secret([redacted])``, ``str`` and ``format`` are
    ``[redacted]``; it cannot be pickled, and JSON encoders refuse it (or print ``[redacted]``
    with ``default=str``). Read it with :meth:`expose` (text) or :meth:`expose_bytes`, as late
    and as briefly as you can.

    The bytes are kept in a ``bytearray`` that is overwritten with zeros when the object is
    collected. Python copies what :meth:`expose` and :meth:`expose_bytes` return, and those
    copies are not cleared: this lowers, it does not remove, the value's traces in memory.
    """

    __slots__ = ("_value", "__weakref__")

    def __init__(self, value: Union[bytes, bytearray, str]) -> None:
        if isinstance(value, str):
            data = bytearray(value.encode("utf-8", "surrogateescape"))
        else:
            data = bytearray(value)
        self._value = data

    def expose_bytes(self) -> bytes:
        """The value's bytes."""
        return bytes(self._value)

    def expose(self) -> str:
        """The value as text; :class:`hush.NotUtf8Error` when it is not UTF-8 (use
        :meth:`expose_bytes` then)."""
        try:
            return self._value.decode("utf-8")
        except UnicodeDecodeError:
            pass
        # Raised outside the `except`: the decode error, which holds the bytes it could not
        # decode, is not chained to it.
        raise NotUtf8Error()

    def __repr__(self) -> str:
        return "Secret([redacted])"

    def __str__(self) -> str:
        return "[redacted]"

    def __format__(self, spec: str) -> str:
        return format("[redacted]", spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(bytes(self._value), bytes(other._value))

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        # Immutable from the outside: `dataclasses.asdict` and `copy.deepcopy` keep the wrapper
        # (which prints as [redacted]) rather than failing or copying the bytes out.
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled: pickle its exposed value on purpose")

    def __del__(self) -> None:
        value = getattr(self, "_value", None)
        if value is not None:
            value[:] = bytes(len(value))
