"""Loads billing.yaml into BillingConfig; every error is located to file, line and column.

Three passes, all of whose issues are reported together:

1. `source.parse`: YAML -> plain data plus the position of every key and value
   (syntax errors, duplicate keys, unknown tags).
2. pydantic validation of the whole document (types, unknown fields, ranges, currencies,
   Stripe's length limits); each error's `loc` is mapped back to the offending node and its
   message rewritten for people.
3. `checks.check_document`: rules that combine fields or objects (amounts, tiers,
   references, uniqueness, one currency per subscription, ...).

Each issue prints as `billing.yaml:LINE:COL: path.to.field: message`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import stat
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from billing_sync.config.checks import check_document
from billing_sync.config.models import (
    COUNTRY_PATTERN,
    COUPON_ID_PATTERN,
    KEY_PATTERN,
    PROMOTION_CODE_PATTERN,
    BillingConfig,
)
from billing_sync.config.source import RawIssue, SourceMap, format_path, parse
from billing_sync.errors import ConfigError, ConfigIssue
from billing_sync.gcpause import no_gc

DEFAULT_CONFIG = "billing.yaml"

Loc = tuple[str | int, ...]


def config_path(explicit: str | None) -> Path:
    """-c FILE, else $BILLING_SYNC_CONFIG, else ./billing.yaml."""
    return Path(explicit or os.environ.get("BILLING_SYNC_CONFIG") or DEFAULT_CONFIG)


#: Largest billing.yaml read, checked before parsing. A 100,000-object account is 7 to 11 MB
#: (11 MB in block style with a two-item subscription per customer) and loads in about 0.6 s
#: of CPU per MB. Hostile input is bounded by more than the size: at most `source.MAX_NODES`
#: nodes are composed (2 million, counted while parsing; a 100,000-object account has about
#: 1.5 million) and aliases expand to at most as many values, whatever the file's size.
#: Raise it with $BILLING_SYNC_MAX_CONFIG_BYTES for a larger account.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_CONFIG_ENV = "BILLING_SYNC_MAX_CONFIG_BYTES"

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def max_config_bytes() -> int:
    """`MAX_CONFIG_BYTES`, or $BILLING_SYNC_MAX_CONFIG_BYTES when set to a positive integer."""
    raw = os.environ.get(MAX_CONFIG_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return MAX_CONFIG_BYTES


def read_source(path: str | Path) -> tuple[bytes, str]:
    """The file's bytes (what a saved plan's hash covers) and its text, or a located ConfigError.

    Only regular files are read (a device, FIFO or directory is refused without reading or
    waiting), and only up to the size limit, which is checked before anything is read.
    """
    p = Path(path)

    def refuse(message: str) -> ConfigError:
        return ConfigError([ConfigIssue(str(p), 1, 1, "", f"cannot read file: {message}")])

    limit = max_config_bytes()
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise refuse(err.strerror or str(err)) from None
    try:
        info = os.fstat(fd)
        for test, kind in _FILE_KINDS:
            if test(info.st_mode):
                raise refuse(f"{kind}, not a regular file")
        if not stat.S_ISREG(info.st_mode):
            raise refuse("not a regular file")
        if info.st_size > limit:
            raise refuse(_too_big(info.st_size, limit))
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)  # the file may have grown since fstat
    except OSError as err:
        raise refuse(err.strerror or str(err)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise refuse(_too_big(len(data), limit))
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise refuse(f"not UTF-8 text ({err.reason})") from None


def _too_big(size: int, limit: int) -> str:
    return (
        f"{size:,} bytes is larger than the {limit:,}-byte limit for billing.yaml "
        f"(set {MAX_CONFIG_ENV} to raise it)"
    )


def load_config(path: str | Path) -> BillingConfig:
    """Parse and validate a billing.yaml file, raising ConfigError with every issue found."""
    return load_text(read_source(path)[1], str(path))


def load_text(text: str, filename: str = DEFAULT_CONFIG) -> BillingConfig:
    """Parse and validate billing.yaml text; `filename` is used in the messages only."""
    with no_gc():  # see `no_gc`: validation also builds many objects that all stay alive
        return _load_text(text, filename)


def _load_text(text: str, filename: str) -> BillingConfig:
    # Without the source map: a valid file never needs it (see `parse`).
    doc = parse(text, filename, positions=False)
    located: SourceMap | None = None

    def source() -> SourceMap:
        """Where each key and value is, for the issues of the later passes: parsed again."""
        nonlocal located
        if located is None:
            located = parse(text, filename).source
        return located

    issues: list[RawIssue] = list(doc.issues)
    if not issues and not isinstance(doc.data, dict):
        issues.append(
            RawIssue(
                source().value(()),
                (),
                f"expected a mapping (key: value) at the top level, got {_describe(doc.data)}",
            )
        )
    if isinstance(doc.data, dict):
        cfg: BillingConfig | None = None
        later: list[RawIssue] = []
        try:
            cfg = BillingConfig.model_validate(doc.data)
        except ValidationError as err:
            later.extend(_from_pydantic(err, source()))
        for f in check_document(doc.data, cfg):
            pos = source().key(f.path) if f.at == "key" else source().value(f.path)
            later.append(RawIssue(pos, f.path, f.message))
        # A node the YAML pass already reported (bad tag, duplicate, ...) is not reported again.
        voided = doc.voided
        issues.extend(i for i in later if not any(i.path[: len(p)] == p for p in voided))
        if cfg is not None and not issues:
            cfg._source_file = filename
            cfg._source_text = text
            return cfg
    unique = {
        ConfigIssue(filename, i.pos.line, i.pos.column, format_path(i.path), i.message)
        for i in issues
    }
    raise ConfigError(list(unique))


# --- pydantic errors -> located, human issues ------------------------------------------------


def _from_pydantic(err: ValidationError, source: SourceMap) -> list[RawIssue]:
    out = []
    for e in err.errors():
        loc: Loc = tuple(e["loc"])
        kind = e["type"]
        if kind == "missing":
            parent = loc[:-1]
            out.append(RawIssue(source.key(parent), parent, f"missing required field {loc[-1]!r}"))
        elif kind == "extra_forbidden":
            name = str(loc[-1])
            hint = _suggest(name, _fields_at(loc[:-1]))
            out.append(RawIssue(source.key(loc), loc, f"unknown field {name!r}{hint}"))
        elif loc and loc[-1] == "[key]":
            path = loc[:-1]
            msg = _message(e, path)
            out.append(
                RawIssue(source.key(path), path, msg if msg.startswith("key ") else f"key {msg}")
            )
        else:
            out.append(RawIssue(source.value(loc), loc, _message(e, loc)))
    return out


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices:
        return f" (expected one of: {', '.join(choices)})"
    return ""


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _fields_at(loc: Loc) -> list[str]:
    """Field names of the model found at `loc` (for "did you mean" hints)."""
    tp: Any = BillingConfig
    for seg in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(seg))
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _describe(value: Any) -> str:
    """A short description of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime | dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "finite_number": "a finite number",
}

_PATTERNS = {
    KEY_PATTERN: "use 1-64 letters, digits, '_' or '-', starting with a letter or digit",
    r"^[^\[\]]*$": "must not contain '[' or ']'",
    COUPON_ID_PATTERN: "use 1-64 letters, digits, '_' or '-', starting with a letter or digit",
    PROMOTION_CODE_PATTERN: "use 1-500 letters and digits only (Stripe's rule for codes)",
    COUNTRY_PATTERN: "use a two-letter upper-case ISO 3166-1 country code, e.g. 'DE'",
}


def _num(bound: Any) -> str:
    return str(int(bound)) if isinstance(bound, float) and bound.is_integer() else str(bound)


def _looks_decimal(value: Any) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, str) and value.replace(".", "", 1).strip().isdigit()


def _message(e: Any, loc: Loc) -> str:
    kind: str = e["type"]
    value = e.get("input")
    ctx: dict[str, Any] = e.get("ctx") or {}
    field = str(loc[-1]) if loc else ""
    if kind in _EXPECTED:
        msg = f"expected {_EXPECTED[kind]}, got {_describe(value)}"
        if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
            msg += f' (quote it: "{value}")'
        if field in ("unit_amount", "flat_amount") and _looks_decimal(value):
            msg += (
                ' (unit_amount is in minor units, e.g. 1999; use amount: "19.99" for major units)'
            )
        return msg
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        if field == "version":
            return f"unsupported version {_describe(value)}: this billing-sync reads version 1"
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ", ").split(",")]
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"expected one of {', '.join(choices)}; got {_describe(value)}{hint}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        if bound == 0:
            return f"must not be negative, got {_describe(value)}"
        word = "at least" if kind == "greater_than_equal" else "greater than"
        return f"must be {word} {_num(bound)}, got {_describe(value)}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"must be {word} {_num(bound)}, got {_describe(value)}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        if n == 1:
            return "must not be empty"
        return f"must be at least {n} characters, got {len(value)}: {_describe(value)}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {len(value)}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"must have at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        what = "keys" if isinstance(value, dict) else "items"
        return f"must have at most {ctx.get('max_length')} {what}, got {len(value)}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return (
            f"{_describe(value)} is not allowed: {_PATTERNS.get(pattern, 'must match ' + pattern)}"
        )
    if kind in ("value_error", "assertion_error"):
        msg = str(e.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        return msg
    return str(e.get("msg", "invalid value"))
