"""Checks of raw input values, before anything is done with them: what an API caller sent, as JSON.

The page always sends well-formed values; an API caller may send anything JSON can hold (NaN and
±inf included). Each check either returns the value as the handlers expect it or raises
:class:`UserInputError` with one short line that says what was wrong and quotes at most a short
prefix of the value (a megabyte of input never comes back as a megabyte of message).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from vae_demo.language import _
from vae_demo.services.errors import UserInputError

QUOTE_CHARS = 40  # how much of a bad value a message quotes
MESSAGE_CHARS = 300  # the longest message shown


def quote(value, n: int = QUOTE_CHARS) -> str:
    """A short, printable rendering of ``value`` for a message: its repr, cut to about ``n`` chars."""
    if isinstance(value, str):
        text = repr(value[:n])
        return text[:-1] + "…" + text[-1] if len(value) > n else text
    try:
        text = repr(value)
    except Exception:  # a repr that fails: say what it is
        text = f"<{type(value).__name__}>"
    return text if len(text) <= n else text[:n] + "…"


def one_line(message, limit: int = MESSAGE_CHARS) -> str:
    """``message`` as one line of at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value, name: str, whole: bool = False, lo: float | None = None, hi: float | None = None,
           optional: bool = False):
    """A number from JSON: a float (an int when ``whole``), within [lo, hi] when given.

    Strings, booleans, lists … are refused (the page sends numbers); NaN passes for real numbers (the
    handlers give it a meaning, such as "the default"), but a whole number must be finite. ``None`` is
    returned as is when ``optional`` (an empty number box)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserInputError(_("{name} must be a number, got {got}", name=name, got=quote(value)))
    v = float(value)
    if whole and not math.isfinite(v):
        raise UserInputError(_("{name} must be a whole number, got {got}", name=name, got=quote(value)))
    if lo is not None and v < lo:
        raise UserInputError(_("{name} must be at least {lo:g}, got {v:g}", name=name, lo=lo, v=v))
    if hi is not None and v > hi:
        raise UserInputError(_("{name} must be at most {hi:g}, got {v:g}", name=name, hi=hi, v=v))
    return int(round(v)) if whole else v


def choice(value, name: str, choices: Sequence):
    """One of ``choices`` (strings or numbers), else a message listing them."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value in list(choices):
        return value
    listed = ", ".join(str(c) for c in list(choices)[:12]) + (" …" if len(choices) > 12 else "")
    return _refuse(_("unknown {name} {got}; choose one of {listed}", name=name, got=quote(value), listed=listed)
                   if listed else _("unknown {name} {got}; there is nothing to choose from yet", name=name,
                                    got=quote(value)))


def text(value, name: str, optional: bool = True):
    """A free-text value (a model name): a string, a number (sent as text) or, if ``optional``, None."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise UserInputError(_("{name} must be text, got {got}", name=name, got=quote(value)))
    return value


def flag(value, name: str) -> bool:
    """A checkbox: true/false (0/1 and null accepted)."""
    if value is None or value is False or value == 0:
        return False
    if value is True or (isinstance(value, (int, float)) and value == 1):
        return True
    raise UserInputError(_("{name} must be true or false, got {got}", name=name, got=quote(value)))


def arity(got: int, needed: int, names: Sequence[str] = ()) -> str:
    """The message for a call with too few values."""
    listed = f" ({', '.join(names)})" if names else ""
    return one_line(_("this call takes {n} input values{listed}, got {got}", n=needed, listed=listed, got=got))


def unreadable(name: str, err: BaseException) -> str:
    """The message for a value that could not be read as its input's kind (``err`` says why)."""
    kind = type(err).__name__
    if kind == "InvalidPathError" or "not uploaded" in str(err) or "not in the cache" in str(err):
        return _("{name}: that file was not uploaded to this app (upload it first and pass the path you get back)",
                 name=name)
    if kind == "ValidationError":  # pydantic: the wrong shape of value
        return _("{name}: not a value this input accepts (the wrong type or shape)", name=name)
    if isinstance(err, (OSError, SyntaxError, EOFError)):  # an image that decoding gave up on
        return one_line(_("{name}: the image file is damaged or truncated ({why})", name=name, why=str(err)[:80]))
    return one_line(_("{name}: could not be read ({why})", name=name, why=f"{kind}: {quote(str(err), 80)}"))


def _refuse(message: str):
    raise UserInputError(one_line(message))
