"""Stripe's form encoding, and strict parameter validation against the `stripe` package's types.

The set of parameters Stripe knows for an endpoint comes from the generated TypedDict in
`stripe.params` (e.g. `PriceCreateParams`); the emulator declares which of those it implements.
Validation walks the decoded parameters alongside the TypedDict's type hints and

- rejects a name Stripe does not know: 400 "Received unknown parameter: recurring[foo]";
- rejects a name Stripe knows but the emulator does not implement: 400 "Parameter X is not
  supported by the billing-sync emulator" (never silently ignored);
- reports a missing required parameter as Stripe does ("Missing required param: currency.");
- coerces values to the declared types (int, bool "true"/"false", Decimal, enum literals,
  lists from `a[0]=`/`a[]=`, nested hashes), with Stripe's "Invalid integer: x" style errors.

An empty value (`nickname=`) is kept as the empty string `""`, meaning "unset" to handlers.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, ForwardRef, Literal, NotRequired, Required, Union, get_args, get_origin

import typing_extensions
from stripe._request_options import RequestOptions

from stripe_emulator.errors import ApiError

# Keys of stripe's RequestOptions, which some *Params TypedDicts inherit: never API parameters.
REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)

Params = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Form decoding
# ---------------------------------------------------------------------------------------------


def _split_key(key: str) -> list[str]:
    """`items[0][price]` -> ["items", "0", "price"]; `expand[]` -> ["expand", ""]."""
    if "[" not in key:
        return [key]
    head, _, rest = key.partition("[")
    parts = [head]
    if not rest.endswith("]"):
        raise ApiError.invalid(f"Invalid parameter name: {key}", param=key, validation=True)
    for seg in rest[:-1].split("]["):
        if "[" in seg or "]" in seg:
            raise ApiError.invalid(f"Invalid parameter name: {key}", param=key, validation=True)
        parts.append(seg)
    return parts


# Deepest bracket nesting accepted. The deepest parameter the emulator's routes know has 6
# levels (`items[0][price_data][recurring][interval]` is 5); anything far deeper is malformed,
# and unbounded depth would make every later consumer (validation, the request log) recurse.
MAX_PARAM_DEPTH = 16


def decode_form(pairs: Iterable[tuple[str, str]]) -> Params:
    """Nested dicts from bracket-encoded pairs; `a[]=x` appends to a list, `a[0]=x` is key "0"."""
    root: Params = {}
    for key, value in pairs:
        parts = _split_key(key)
        if len(parts) > MAX_PARAM_DEPTH:
            raise ApiError.invalid(
                f"Invalid parameter name: {key[:100]} is nested more than {MAX_PARAM_DEPTH} "
                "levels deep",
                param=parts[0][:100],
                validation=True,
            )
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                raise ApiError.invalid(f"Invalid array: {key}", param=parts[0], validation=True)
            if last:
                if part == "":
                    raise ApiError.invalid(
                        f"Invalid parameter name: {key}", param=key, validation=True
                    )
                if isinstance(node.get(part), dict | list):
                    raise ApiError.invalid(f"Invalid hash: {key}", param=key, validation=True)
                node[part] = value
            elif parts[i + 1] == "" and i + 1 == len(parts) - 1:
                existing = node.setdefault(part, [])
                if not isinstance(existing, list):
                    raise ApiError.invalid(f"Invalid array: {key}", param=key, validation=True)
                existing.append(value)
                break
            else:
                child = node.setdefault(part, {})
                if child == "":
                    child = node[part] = {}
                if not isinstance(child, dict):
                    raise ApiError.invalid(f"Invalid hash: {key}", param=key, validation=True)
                node = child
    return root


# ---------------------------------------------------------------------------------------------
# Type hints of the generated TypedDicts
# ---------------------------------------------------------------------------------------------


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing_extensions.is_typeddict(tp)


def _resolve(tp: Any, module: str) -> Any:
    """Evaluate string/ForwardRef annotations in the TypedDict's module; strip NotRequired."""
    if isinstance(tp, ForwardRef):
        tp = tp.__forward_arg__
    if isinstance(tp, str):
        tp = eval(tp, dict(vars(sys.modules[module])))
    while get_origin(tp) in (NotRequired, Required):
        tp = _resolve(get_args(tp)[0], module)
    return tp


@cache
def typed_fields(td: type) -> dict[str, Any]:
    """The API parameter names of a *Params TypedDict, each with its resolved type."""
    return {
        name: _resolve(ann, td.__module__)
        for name, ann in td.__annotations__.items()
        if name not in REQUEST_OPTION_KEYS
    }


def required_fields(td: type) -> frozenset[str]:
    return frozenset(getattr(td, "__required_keys__", frozenset())) - REQUEST_OPTION_KEYS


def _options(tp: Any, module: str) -> list[Any]:
    """The alternatives of a (possibly union) type, each resolved."""
    tp = _resolve(tp, module)
    if get_origin(tp) in (Union, types.UnionType):
        out: list[Any] = []
        for a in get_args(tp):
            out.extend(_options(a, module))
        return out
    return [tp]


def walk_type(td: type) -> dict[str, Any]:
    """A tree of the parameter names a TypedDict knows: {name: subtree or None}; `*` for map keys."""

    def sub(tp: Any, module: str, depth: int) -> dict[str, Any] | None:
        if depth > 12:
            return None
        tree: dict[str, Any] = {}
        for opt in _options(tp, module):
            origin = get_origin(opt)
            if _is_typeddict(opt):
                for name, t in typed_fields(opt).items():
                    tree[name] = sub(t, opt.__module__, depth + 1)
            elif origin in (list, typing.List):  # noqa: UP006
                inner = sub(get_args(opt)[0], module, depth + 1)
                if inner:
                    tree.update(inner)
            elif origin in (dict, typing.Dict) or _is_untyped_object(opt):  # noqa: UP006
                inner = sub(get_args(opt)[-1], module, depth + 1)
                tree["*"] = inner
        return tree or None

    return {name: sub(t, td.__module__, 1) for name, t in typed_fields(td).items()}


def _is_untyped_object(tp: Any) -> bool:
    origin = get_origin(tp) or tp
    return getattr(origin, "__name__", "") == "UntypedStripeObject"


def known_paths(td: type) -> set[str]:
    """Every dotted parameter path the TypedDict knows (`recurring.interval`, `metadata.*`)."""
    out: set[str] = set()

    def rec(tree: Mapping[str, Any] | None, prefix: str) -> None:
        for k, v in (tree or {}).items():
            p = f"{prefix}.{k}" if prefix else k
            out.add(p)
            rec(v, p)

    rec(walk_type(td), "")
    return out


# ---------------------------------------------------------------------------------------------
# Validation and coercion
# ---------------------------------------------------------------------------------------------


class Implemented:
    """The dotted parameter paths an endpoint implements; a path covers its whole subtree."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = frozenset(paths)
        self._parents = frozenset(
            ".".join(p.split(".")[:i]) for p in self.paths for i in range(1, p.count(".") + 1)
        )

    def covers(self, path: str) -> bool:
        if path in self.paths or path in self._parents:
            return True
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.paths for i in range(1, len(parts)))


# Parameters that accept "" (unset) although the SDK's types do not say so (`Literal['']`
# marks the others), each with its public evidence:
EMPTY_ALLOWED_PATHS = frozenset(
    {
        # A product's default price is unset with `default_price=""` (Stripe staff in
        # https://github.com/stripe/stripe-python/issues/658); the SDK types it as `str`.
        "default_price",
    }
)


def _unsettable(opts: list[Any], path: str) -> bool:
    """Whether `""` is accepted for this parameter (see EMPTY_ALLOWED_PATHS)."""
    if any(get_origin(o) is Literal and "" in get_args(o) for o in opts):
        return True
    if path in EMPTY_ALLOWED_PATHS:
        return True
    # A metadata key posted empty is removed ("You can unset individual keys by posting an
    # empty value to them", https://docs.stripe.com/api/metadata); its value type is `str`.
    parts = path.split(".")
    return len(parts) >= 2 and parts[-2] == "metadata"


def _fmt_name(parent: str, key: str) -> str:
    return f"{parent}[{key}]" if parent else key


class Validator:
    def __init__(self, td: type, implemented: Implemented) -> None:
        self.td = td
        self.implemented = implemented

    def validate(self, params: Params) -> Params:
        return self._typeddict(self.td, params, "", "")

    def _typeddict(self, td: type, value: Any, name: str, path: str) -> Params:
        if not isinstance(value, dict):
            raise ApiError.invalid(f"Invalid hash: {name}", param=name, validation=True)
        fields = typed_fields(td)
        out: Params = {}
        for key, raw in value.items():
            full = _fmt_name(name, key)
            dotted = f"{path}.{key}" if path else key
            if key not in fields:
                raise ApiError.invalid(
                    f"Received unknown parameter: {full}",
                    param=full,
                    code="parameter_unknown",
                    validation=True,
                )
            if not self.implemented.covers(dotted):
                raise ApiError.invalid(
                    f"Parameter {full} is not supported by the billing-sync emulator",
                    param=full,
                    code="parameter_unsupported",
                    validation=True,
                )
            out[key] = self._value(fields[key], raw, full, dotted, td.__module__)
        for key in sorted(required_fields(td)):
            if key not in out or out[key] == "":
                full = _fmt_name(name, key)
                raise ApiError.invalid(
                    f"Missing required param: {full}.",
                    param=full,
                    code="parameter_missing",
                    validation=True,
                )
        return out

    def _value(self, tp: Any, raw: Any, name: str, path: str, module: str) -> Any:
        opts = _options(tp, module)
        if raw == "":
            if not _unsettable(opts, path):
                raise ApiError.invalid(
                    f"You passed an empty string for '{name}'. We assume empty values are an "
                    f"attempt to unset a parameter; however '{name}' cannot be unset. You "
                    f"should remove '{name}' from your request or supply a non-empty value.",
                    param=name,
                    code="parameter_invalid_empty",
                    validation=True,
                )
            return ""
        # `Literal['day', 'month']|str`: the `str` is the client's forward compatibility; the
        # API accepts only the listed values.
        if any(get_origin(o) is Literal and any(a != "" for a in get_args(o)) for o in opts):
            opts = [o for o in opts if o is not str]
        errors: list[ApiError] = []
        structured = isinstance(raw, dict | list)

        def rank(o: Any) -> int:
            is_struct = _is_typeddict(o) or get_origin(o) in (list, dict) or _is_untyped_object(o)
            return 0 if is_struct == structured else 1

        literal_errors: list[ApiError] = []
        for opt in sorted(opts, key=rank):
            try:
                return self._one(opt, raw, name, path, module)
            except _Mismatch as m:
                (literal_errors if get_origin(opt) is Literal else errors).append(m.error)
        # `Literal['inf']|int` given "lots": "Invalid integer: lots" says more than the enum.
        errors += literal_errors
        raise errors[0] if errors else ApiError.invalid(f"Invalid value: {name}", param=name)

    def _one(self, opt: Any, raw: Any, name: str, path: str, module: str) -> Any:
        origin = get_origin(opt)
        if _is_typeddict(opt):
            if not isinstance(raw, dict):
                raise _Mismatch(f"Invalid hash: {name}", name)
            return self._typeddict(opt, raw, name, path)
        if origin in (list, typing.List):  # noqa: UP006
            if isinstance(raw, dict):
                if not all(k.isdigit() for k in raw):
                    raise _Mismatch(f"Invalid array: {name}", name)
                raw = [raw[k] for k in sorted(raw, key=int)]
            if not isinstance(raw, list):
                raise _Mismatch(f"Invalid array: {name}", name)
            (inner,) = get_args(opt)
            return [self._value(inner, v, f"{name}[{i}]", path, module) for i, v in enumerate(raw)]
        if origin in (dict, typing.Dict) or _is_untyped_object(opt):  # noqa: UP006
            if not isinstance(raw, dict):
                raise _Mismatch(f"Invalid hash: {name}", name)
            inner = get_args(opt)[-1]
            return {
                k: self._value(inner, v, f"{name}[{k}]", f"{path}.*", module)
                for k, v in raw.items()
            }
        if isinstance(raw, dict | list):
            raise _Mismatch(f"Invalid string: {name}", name)
        if origin is Literal:
            if raw in get_args(opt):
                return raw
            allowed = [str(a) for a in get_args(opt) if a != ""]
            if not allowed:
                raise _Mismatch(f"Invalid value for {name}.", name)
            listed = (
                ", ".join(allowed[:-1]) + f", or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
            )
            raise _Mismatch(f"Invalid {name}: must be one of {listed}", name)
        if opt is bool:
            if raw in ("true", "false"):
                return raw == "true"
            raise _Mismatch(f"Invalid boolean: {raw}", name)
        if opt is int:
            # ASCII digits only: Python's int() would also take "1_000", " 7" or other scripts'
            # digits. https://docs.stripe.com/error-codes#parameter-invalid-integer
            if not isinstance(raw, str) or not _INTEGER.fullmatch(raw):
                raise _Mismatch(f"Invalid integer: {raw}", name, code="parameter_invalid_integer")
            return int(raw)
        if opt is float:
            try:
                return float(raw)
            except ValueError:
                raise _Mismatch(f"Invalid float: {raw}", name) from None
        if opt is Decimal:
            try:
                d = Decimal(raw)
            except InvalidOperation:
                raise _Mismatch(f"Invalid decimal: {raw}", name) from None
            if not d.is_finite():
                raise _Mismatch(f"Invalid decimal: {raw}", name)
            return d
        if opt is str:
            return raw
        return raw


_INTEGER = re.compile(r"-?[0-9]+")


class _Mismatch(Exception):
    def __init__(self, message: str, param: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.error = ApiError.invalid(message, param=param, code=code, validation=True)


def validate(td: type, implemented: Implemented, params: Params) -> Params:
    try:
        return Validator(td, implemented).validate(params)
    except _Mismatch as m:
        raise m.error from None


def check_implemented_subset(td: type, implemented: Iterable[str]) -> list[str]:
    """Implemented paths that the stripe TypedDict does not know (should be empty)."""
    known = known_paths(td)
    return sorted(p for p in implemented if p not in known)
