"""The Chinese message catalog: extract, update and compile it with Babel.

    python scripts/catalog.py            # update syncd/locale/zh_CN/LC_MESSAGES/syncd.po, compile syncd.mo
    python scripts/catalog.py --check    # exit 1 if the .po lacks a message or the .mo is stale

What is extracted (babel.cfg; keywords ``_`` and ``N_``):
- every ``_("...")`` and ``N_("...")`` in syncd/;
- the help of every command and option of the CLI (click keeps it as docstrings and ``help=``);
- click's own messages (usage errors, "Usage:", "Show this message and exit."), which syncd's
  CLI routes through the same catalog.

Both files are committed: the .po is the source a translator edits, the .mo is what the wheel
ships and ``syncd.i18n`` reads. tests/test_i18n.py fails when they disagree or a message has no
translation. Needs the ``test`` extra (Babel).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "syncd" / "locale" / "zh_CN" / "LC_MESSAGES" / "syncd.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None}
CLICK_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
FIXED_DATE = datetime(2026, 11, 1, tzinfo=timezone.utc)
HEADER = "syncd: the messages syncd writes for a person, in Simplified Chinese."


def _method_map() -> list[tuple[str, str]]:
    with open(ROOT / "babel.cfg", encoding="utf-8") as stream:
        method_map, _options = parse_mapping_cfg(stream)
    return method_map


def command_texts() -> list[tuple[str, str]]:
    """(text, where) for the help of every command and option of syncd's CLI."""
    sys.path.insert(0, str(ROOT))
    from syncd import cli

    found: list[tuple[str, str]] = []

    def walk(command: object, path: str) -> None:
        for attribute in ("help", "short_help"):
            text = getattr(command, attribute, None)
            if text:
                found.append((text, f"{path} ({attribute})"))
        for param in getattr(command, "params", []):
            if getattr(param, "help", None):
                found.append((param.help, f"{path} {param.name}"))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, f"{path} {name}")

    walk(cli.cli, "syncd")
    return found


def click_dir() -> Path:
    spec = importlib.util.find_spec("click")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


def extract() -> Catalog:
    """Every message syncd can write: its own, its CLI help, and click's."""
    template = Catalog(project="syncd", header_comment=f"# {HEADER}")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT / "syncd"), _method_map(), keywords=KEYWORDS, comment_tags=("i18n:",)):
        template.add(message, None, [(f"syncd/{filename}", lineno)], auto_comments=comments, context=context)
    for text, where in command_texts():
        template.add(text, None, [("syncd/cli.py", 0)], auto_comments=[where])
    for filename, lineno, message, comments, context in extract_from_dir(
            str(click_dir()), [("**.py", "python")], keywords=CLICK_KEYWORDS):
        template.add(message, None, [(f"click/{filename}", lineno)], context=context)
    return template


def read() -> Catalog:
    with open(PO, "rb") as stream:
        return read_po(stream, locale="zh_CN", domain="syncd")


def updated() -> Catalog:
    """The .po brought up to the code: new messages added (untranslated), vanished ones dropped."""
    catalog = read() if PO.exists() else Catalog(locale="zh_CN", domain="syncd", header_comment=f"# {HEADER}")
    catalog.update(extract(), no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    # fixed dates: the files change only when a message does
    catalog.creation_date = catalog.revision_date = FIXED_DATE
    catalog.project, catalog.version = "syncd", ""
    catalog.language_team = "syncd <syncd@localhost>"
    return catalog


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=True, omit_header=False, include_lineno=False)
    return buffer.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def messages_of_mo(data: bytes) -> dict[object, str]:
    """The translations a compiled catalog holds (its header, which names the Babel version, left out)."""
    import gettext

    catalog = gettext.GNUTranslations(io.BytesIO(data))
    return {k: v for k, v in catalog._catalog.items() if k != ""}  # type: ignore[attr-defined]


def stale() -> list[str]:
    """What is out of date: messages the code has and the .po lacks (or the reverse), a stale .mo."""
    found = []
    held = {m.id for m in read() if m.id} if PO.exists() else set()
    extracted = {m.id for m in extract() if m.id}
    found += [f"not in the .po: {msgid!r}" for msgid in sorted(map(str, extracted - held))]
    found += [f"in the .po, no longer in the code: {msgid!r}" for msgid in sorted(map(str, held - extracted))]
    if not MO.exists() or (PO.exists() and messages_of_mo(MO.read_bytes()) != messages_of_mo(mo_bytes(read()))):
        found.append(f"{MO.relative_to(ROOT)} is not the .po compiled")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    args = parser.parse_args()
    catalog = updated()
    missing = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple)
                                                                      else [m.string]))]
    if args.check:
        problems = stale()
        for msgid in missing:
            print(f"untranslated: {msgid!r}", file=sys.stderr)
        for problem in problems:
            print(f"{problem} (run python scripts/catalog.py)", file=sys.stderr)
        return 1 if problems or missing else 0
    PO.parent.mkdir(parents=True, exist_ok=True)
    PO.write_bytes(po_bytes(catalog))
    MO.write_bytes(mo_bytes(read()))
    print(f"{PO.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
