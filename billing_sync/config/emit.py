"""billing.yaml text from plain data, with comments (PyYAML cannot write comments).

A small block-style emitter for what billing.yaml holds: mappings, lists, strings, integers,
booleans and null. Strings are written plain only when every YAML reader reads them back as
the same string (letters first, a short safe alphabet, not a YAML 1.1 boolean or null);
anything else is double-quoted with escapes, so `yes`, `0100`, `1e3`, `1:30`, `null`, `#x`,
`a: b` and control characters all come back as the strings they were. Amounts are integers in
minor units (`unit_amount: 1999`): billing.yaml refuses YAML 1.1 number forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

Path = tuple[str | int, ...]

# Plain only: a letter first, then letters, digits and `_ - . / @ +` (single inner spaces).
_PLAIN = re.compile(r"[A-Za-z](?:[A-Za-z0-9_./@+-]| (?=[A-Za-z0-9_./@+-]))*\Z")
# Words some YAML reader takes for a boolean or null (YAML 1.1 and 1.2, any case).
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\xa0": "\\_",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def scalar(value: Any) -> str:
    """One scalar as YAML text that reads back as the same value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")  # digits and a point: read back as the same number
    if isinstance(value, str):
        return value if is_plain(value) else quote(value)
    raise TypeError(f"billing.yaml has no scalar of type {type(value).__name__}")


def is_plain(text: str) -> bool:
    """Whether `text` can be written unquoted and still read back as this string."""
    return _PLAIN.match(text) is not None and text.lower() not in _RESERVED


def quote(text: str) -> str:
    """A double-quoted YAML scalar: `\\` and `"` escaped, and every character a reader could
    fold, drop or refuse (controls, line and paragraph separators, BOM, surrogates) as an escape."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or code == 0xFEFF:
            out.append(f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}")
        elif code in (0xFFFE, 0xFFFF):
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def comment_text(text: str) -> str:
    """`text` fit for one comment line (line breaks and controls shown as escapes)."""
    return quote(text)[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def dump(
    data: Mapping[str, Any],
    comments: Mapping[Path, str] | None = None,
    header: Sequence[str] = (),
) -> str:
    """`data` as block YAML. `comments[path]` follows the key at `path` (`pro:  # prod_123`);
    `header` lines come first, each as a comment."""
    lines = [f"# {comment_text(h)}".rstrip() for h in header]
    _mapping(data, (), 0, comments or {}, lines)
    return "\n".join(lines) + "\n"


def _mapping(
    data: Mapping[str, Any], path: Path, indent: int, comments: Mapping[Path, str], out: list[str]
) -> None:
    pad = " " * indent
    for key, value in data.items():
        here = (*path, key)
        note = comments.get(here)
        tail = f"  # {comment_text(note)}" if note else ""
        head = f"{pad}{scalar(key)}:"
        if isinstance(value, Mapping) and value:
            out.append(head + tail)
            _mapping(value, here, indent + 2, comments, out)
        elif isinstance(value, (list, tuple)) and value:
            out.append(head + tail)
            _sequence(value, here, indent + 2, comments, out)
        else:
            out.append(f"{head} {_empty_or_scalar(value)}{tail}")


def _sequence(
    data: Sequence[Any], path: Path, indent: int, comments: Mapping[Path, str], out: list[str]
) -> None:
    pad = " " * indent
    for n, value in enumerate(data):
        here = (*path, n)
        if isinstance(value, Mapping) and value:
            # The first key goes on the dash's line; the rest line up under it.
            first: list[str] = []
            _mapping(value, here, indent + 2, comments, first)
            out.append(f"{pad}- {first[0].lstrip()}")
            out.extend(first[1:])
        elif isinstance(value, (list, tuple)) and value:
            out.append(f"{pad}-")
            _sequence(value, here, indent + 2, comments, out)
        else:
            out.append(f"{pad}- {_empty_or_scalar(value)}")


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return scalar(value)
