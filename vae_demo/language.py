"""The languages of the app's page: every string a visitor reads, in English and in each translation.

English is the source: a string in the code is its own key (gettext's way), written where it is used and
read through :func:`_` (``_("{n} test images", n=64)``); each other language is one JSON file,
``vae_demo/locales/<code>.json``, mapping every English string of the page to its translation. Those files
are the one place every string of the page is listed: ``python -m vae_demo.locales`` lists the strings
a file lacks, and ``tests/test_language.py`` fails on any string left untranslated.

A visit's language is chosen once, the same way here and in the page (``vae_demo/web/language.js``): the
URL's ``?lang=`` when it names one of :data:`LANGUAGES`, else the first of the browser's languages that is
one, else English. The server learns it from each request (its page's URL, its Accept-Language header) and
holds it for that request in a context variable, so a handler and the services under it need no argument.

Why not Gradio's own ``gr.I18n`` (6.31): it translates only the static texts of the built page, by the browser's
locale, in the page; it has no link flag, and most of this app's text is made by handlers with numbers in it
(summaries, captions, plots, messages), which it cannot reach. Here the built page's texts go out translated at
load (:mod:`vae_demo.app.localize`) and handlers make theirs in the visitor's language. Gradio's own words (its
widgets, its footer) still follow the browser's locale.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import re
import string
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

LOCALES = Path(__file__).resolve().parent / "locales"
SOURCE = "en"
LANGUAGES = {"en": "English", "de": "Deutsch"}  # code → its own name; a new language: a line here and one JSON file

_current: contextvars.ContextVar[str] = contextvars.ContextVar("vae_demo_language", default=SOURCE)
_recording: contextvars.ContextVar[dict | None] = contextvars.ContextVar("vae_demo_language_recording",
                                                                        default=None)


@functools.cache
def catalog(code: str) -> dict[str, str]:
    """English string → its translation in language ``code`` (empty for English)."""
    if code == SOURCE:
        return {}
    return json.loads((LOCALES / f"{code}.json").read_text(encoding="utf-8"))


def current() -> str:
    return _current.get()


def _(text: str, /, **values) -> str:
    """``text`` (an English string, with ``{name}`` fields for ``values``) in the current language."""
    template = catalog(current()).get(text) or text
    out = template.format(**values) if values else template
    book = _recording.get()
    if book is not None and values:
        book[out] = (text, values)
    return out


class Deferred(str):
    """A text made where no visitor's language is known (a training thread): English, with what it was made of,
    so :func:`translate` can make it again in the language of whoever reads it."""

    msgid: str
    values: dict

    def __reduce__(self):  # (it crosses process boundaries with the job's state)
        return _remade, (self.msgid, dict(self.values))


def deferred(text: str, /, **values) -> Deferred:
    """``text`` with ``values`` in English, to be shown later through :func:`translate` in the reader's language."""
    out = Deferred(text.format(**values) if values else text)
    out.msgid, out.values = text, values
    return out


def _remade(msgid: str, values: dict) -> Deferred:
    return deferred(msgid, **values)


def N_(text: str, /) -> str:
    """Marks a string of the page kept as data (a model's own words, cached across visitors): it is shown through
    ``_(text)`` where it is shown, and listed for translation here."""
    return text


def translate(text: str, code: str | None = None) -> str:
    """A string as the page shows it (a whole English string, or one the app built with :func:`_` while
    :func:`recording`) in language ``code`` (default: the current one); unknown strings are returned as they are."""
    code = code or current()
    if code == SOURCE or not isinstance(text, str):
        return text
    table = catalog(code)
    if isinstance(text, Deferred):
        values = {k: translate(v, code) if isinstance(v, Deferred) else v for k, v in text.values.items()}
        return (table.get(text.msgid) or text.msgid).format(**values)
    if text in table:
        return table[text] or text
    book = _recording.get() or {}
    if text in book:
        msgid, values = book[text]
        return (table.get(msgid) or msgid).format(**values)
    return text


@contextlib.contextmanager
def use(code: str):
    """Run a block in language ``code`` (an unknown code means English)."""
    token = _current.set(code if code in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def recording(book: dict):
    """While building the page: remember which English string each ``_(…, **values)`` made, so
    :func:`translate` can render it again in another language."""
    token = _recording.set(book)
    try:
        yield book
    finally:
        _recording.reset(token)


def choose(query: str | None = None, accept: str | None = None) -> str:
    """A visit's language: ``query`` (the URL's ``lang``) when it is one of ours, else the first of the browser's
    languages (an Accept-Language header: ``de-DE,de;q=0.9,en;q=0.8``, highest weight first) whose code or main
    part (``de`` of ``de-DE``) is one of ours, else English. The page's own choice (web/language.js) is the same."""
    if query and query.strip().lower() in LANGUAGES:
        return query.strip().lower()
    weighted = []
    for i, part in enumerate((accept or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        m = re.search(r"q=([0-9.]+)", params)
        try:
            q = float(m.group(1)) if m else 1.0
        except ValueError:
            q = 0.0
        if tag:
            weighted.append((-q, i, tag.strip().lower()))
    for _q, _i, tag in sorted(weighted):
        for code in (tag, tag.split("-")[0]):
            if code in LANGUAGES:
                return code
    return SOURCE


def of_request(headers, query: dict | None = None) -> str:
    """The language of a request to the app: its own ``lang`` parameter, else the page's (the Referer's URL),
    else its Accept-Language header."""
    lang = (query or {}).get("lang")
    if not lang:
        referer = headers.get("referer") or ""
        lang = (parse_qs(urlsplit(referer).query).get("lang") or [None])[0]
    return choose(lang, headers.get("accept-language"))


def fields(text: str) -> set[str]:
    """The ``{name}`` fields of a template (a translation must keep the same ones)."""
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}
