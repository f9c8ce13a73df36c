"""The language of what syncd writes for a person: Simplified Chinese or English.

Messages are written in English in the code, wrapped in ``_()`` where they are made, and
translated through the gettext catalog ``syncd/locale/zh_CN/LC_MESSAGES/syncd.mo`` (compiled from
``syncd.po`` with Babel, see docs/operations.md). Placeholders are named ``{name}`` fields, filled
with ``str.format`` after the translation, so that a Chinese sentence may order them differently.

``N_()`` only marks a text for the catalog: it stays English where it is made (a reject's reason,
kept in the state store and the audit journal) and is translated where it is shown
(:func:`translate_stored`).

The language is chosen once per process (:func:`choose`): ``--lang``, else ``lang:`` in the
config, else the first of LC_ALL, LC_MESSAGES, LANG that is set (``zh``, ``zh_CN``, ``zh_SG``,
``zh_Hans``: Chinese; anything else: English). Machine-readable output never goes through here.
"""

from __future__ import annotations

import gettext
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

DOMAIN = "syncd"
CHINESE, ENGLISH = "zh", "en"
LANGUAGES = (CHINESE, ENGLISH)
#: The catalog's locale folder name for each language that has one.
CATALOGS = {CHINESE: "zh_CN"}

_state: dict[str, object] = {"language": ENGLISH, "translations": gettext.NullTranslations()}


def language_of(value: str | None) -> str | None:
    """``zh`` or ``en`` for a ``--lang``/``lang:`` value or a locale name; None if it says nothing.

    ``zh_CN.UTF-8``, ``zh-CN``, ``zh``, and every other ``zh...`` are Chinese (Simplified: a
    reader of ``zh_TW`` reads it better than English); ``C``, ``POSIX``, ``en_US`` and any other
    language are English.
    """
    if value is None or not value.strip():
        return None
    return CHINESE if value.strip().lower().startswith("zh") else ENGLISH


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale variables ask for (POSIX order: LC_ALL, LC_MESSAGES, LANG)."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        found = language_of(env.get(variable))
        if found is not None:
            return found
    return ENGLISH


def choose(*candidates: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The first candidate that names a language (``--lang``, then ``lang:``), else the locale."""
    for candidate in candidates:
        found = language_of(candidate)
        if found is not None:
            return found
    return from_environment(environ)


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of a language (English: none, the texts themselves)."""
    folder = CATALOGS.get(language)
    if folder is None:
        return gettext.NullTranslations()
    path = resources.files("syncd") / "locale" / folder / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as stream:
        return gettext.GNUTranslations(stream)


def use(language: str) -> str:
    """Write every message from now on in ``language`` (``zh`` or ``en``); returns it."""
    chosen = language_of(language) or ENGLISH
    _state["language"] = chosen
    _state["translations"] = catalog(chosen)
    _patterns.cache_clear()
    return chosen


def current() -> str:
    """The language messages are written in now."""
    return str(_state["language"])


def _(message: str) -> str:
    """``message`` in the current language (English as it is when the catalog lacks it)."""
    translations = _state["translations"]
    assert isinstance(translations, gettext.NullTranslations)
    return translations.gettext(message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Marks ``message`` for the catalog without translating it here (see :func:`translate_stored`)."""
    return message




def _plain(template: str) -> str:
    """``template`` with its fields bare (``{v!r:>8}`` -> ``{v}``), to be filled with the texts as shown."""
    out = []
    for text, name, _spec, _conversion in string.Formatter().parse(template):
        out.append(text.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            out.append("{" + name + "}")
    return "".join(out)


#: Stored texts longer than this are translated only when the catalog knows them whole: matching
#: a megabyte-long database error against every entry with fields would cost seconds a line.
MAX_MATCHED = 4000


@dataclass(frozen=True)
class _Shape:
    """A catalog entry with fields: its literal pieces around the fields, and the fields' names."""

    pieces: tuple[str, ...]          # len(names) + 1 pieces: before, between and after the fields
    names: tuple[str, ...]
    refill: str
    #: fields written right after another field (``{clock}{offset_text}``), in the translation too:
    #: the first of them takes the text of both, these are left empty
    glued: tuple[str, ...] = ()

    def match(self, text: str) -> dict[str, str] | None:
        """The fields' values if ``text`` is this entry filled in, each field the shortest that
        lets the next piece follow (no backtracking: linear in ``text``); else None."""
        first, last = self.pieces[0], self.pieces[-1]
        end = len(text) - len(last)
        if not text.startswith(first) or not text.endswith(last) or end - len(first) < len(self.names):
            return None
        values: dict[str, str] = {}
        position = len(first)
        for index, name in enumerate(self.names):
            if index == len(self.names) - 1:
                value, position = text[position:end], end
            else:
                following = self.pieces[index + 1]
                found = text.find(following, position + 1, end) if following else position + 1
                if found < 0:
                    return None
                value, position = text[position:found], found + len(following)
            if not value or values.setdefault(name, value) != value:
                return None
        for name in self.glued:
            values.setdefault(name, "")
        return values


@lru_cache(maxsize=1)
def _patterns() -> tuple[_Shape, ...]:
    """Each catalog entry with fields as a shape to match its filled-in English text against, the
    entries with the most words of their own first (``{v!r} is not a number`` before ``{v!r} is {what}``)."""
    translations = _state["translations"]
    found: list[tuple[int, _Shape]] = []
    for msgid, msgstr in getattr(translations, "_catalog", {}).items():
        if not isinstance(msgid, str) or not msgid or not msgstr or "{" not in msgid:
            continue
        pieces: list[str] = [""]
        names: list[str] = []
        glued: list[str] = []
        try:
            for text, name, _spec, _conversion in string.Formatter().parse(msgid):
                pieces[-1] += text
                if name is None:
                    continue
                if not name.isidentifier():
                    raise ValueError(name)
                if names and not pieces[-1] and f"{{{names[-1]}}}{{{name}}}" in _plain(msgstr):
                    glued.append(name)       # side by side here and in the translation: one span
                    continue
                names.append(name)
                pieces.append("")
            refill = _plain(msgstr)
        except ValueError:   # not a text with fields (braces of YAML)
            continue
        if not names or any(not piece for piece in pieces[1:-1]):
            continue         # two fields side by side: no piece between them tells where one ends
        # refilled with the text as it was shown: no conversion or format spec a second time
        found.append((sum(map(len, pieces)), _Shape(tuple(pieces), tuple(names), refill, tuple(glued))))
    found.sort(key=lambda item: -item[0])
    return tuple(shape for _length, shape in found)


def translate_stored(text: str, _depth: int = 0) -> str:
    """A message kept in English (a reject's reason, a run's error) in the current language.

    A text the catalog knows whole is translated; one made from an entry with fields is matched
    against it and refilled, its fields that are sentences themselves translated the same way;
    anything else (a database's own words) is returned as it is. Linear in the text's length.
    """
    if current() == ENGLISH or not text:
        return text
    whole = _(text)
    if whole != text or len(text) > MAX_MATCHED:
        return whole
    for shape in _patterns():
        values = shape.match(text)
        if values is not None:
            fields = {name: translate_stored(value, _depth + 1) if " " in value and _depth < 2 else value
                      for name, value in values.items()}
            try:
                return shape.refill.format(**fields)
            except (KeyError, IndexError, ValueError):
                continue
    return text
    whole = _(text)
    if whole != text:
        return whole
    for pattern, msgstr in _patterns():
        match = pattern.fullmatch(text)
        if match is not None:
            fields = {name: translate_stored(value, _depth + 1) if " " in value and _depth < 2 else value
                      for name, value in match.groupdict().items()}
            try:
                return msgstr.format(**fields)
            except (KeyError, IndexError, ValueError):
                continue
    return text
