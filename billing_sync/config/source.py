"""YAML -> plain data, keeping file/line/column of every mapping key and value.

PyYAML's own constructor forgets positions and silently keeps the last of two duplicate
keys. Here the document is composed into a node tree (every node keeps its start mark) and
turned into dicts, lists and scalars by hand, so every node's position is recorded under its
path, and duplicate keys, non-scalar keys, unknown tags and recursive aliases become located
issues.

The node tree comes from libyaml's C parser (`yaml.CSafeLoader`) when PyYAML was built with
it, about 15 times less CPU than PyYAML's pure-Python scanner. Both give the same nodes and
marks; for messages, a document libyaml refuses is parsed again with the Python parser, so
syntax errors read exactly the same whichever parser is installed. Without libyaml the
Python parser is used and `PARSER` says so.

A valid billing.yaml needs no positions (they only place issues), so the loader first asks for
the data alone: a plain document (no anchors, tags, merges, duplicates or anything else that
needs a located word) is then built straight from libyaml's event stream, without a node
tree (`_plain_document`); any other document takes the node path.

Limits, enforced while parsing, before the data is built:
- at most `MAX_NODES` YAML nodes in the document (keys and values), counted while libyaml
  composes the tree (an alias makes no node there; it is counted when the message places the
  error, on the event stream);
- at most `MAX_NODES` values once aliases are expanded ("billion laughs");
- at most `MAX_PARSE_DEPTH` levels of nesting with the Python parser (libyaml refuses more
  than 1,000 itself, and the document is then parsed again with the Python parser); the data
  itself: `MAX_DEPTH`.
The file's size is limited before parsing, by `billing_sync.config.loader.read_source`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from billing_sync.gcpause import no_gc

Path = tuple[str | int, ...]

#: YAML nodes (keys and values) in the document, and values once aliases are expanded. A
#: 100,000-object billing.yaml has about 1.5 million nodes; 2 million composed nodes take
#: about 600 MB, so the limit sits just above what the largest supported account needs.
MAX_NODES = 2_000_000
#: billing.yaml is a handful of levels deep; deeper data is refused at its path, not recursed into.
MAX_DEPTH = 64
#: Nesting refused while parsing (the whole document), before the node tree is built.
MAX_PARSE_DEPTH = 256

#: True when PyYAML has libyaml's C parser; `PARSER` names the parser in use.
LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")
PARSER = "libyaml (C)" if LIBYAML else "pure-Python (PyYAML built without libyaml)"

_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
#: The only integers billing.yaml reads: base 10, no leading zero (`1_000` groups digits).
_BASE10_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
#: The only floats: plain decimals (and YAML's .inf / .nan, which the models refuse where
#: they matter); no exponent, no base 60.
_PLAIN_FLOAT = re.compile(
    r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*\Z|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z"
)
#: C0 and C1 control characters and DEL, except tab, line feed and carriage return. The reader
#: refuses them written raw; these come from escapes in double-quoted strings ("\0", "\x07").
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Unusable:
    """Stands for a scalar already reported (YAML 1.1 number, control character): no model
    type accepts it, so the object around it fails validation quietly (its path is voided)
    instead of reporting the field as missing."""

    def __repr__(self) -> str:
        return "<unusable>"


UNUSABLE = Unusable()


class YamlFloat(float):
    """A float read from billing.yaml that remembers how it was written, so that an amount
    written as a bare number (`amount: 19.990000000000000001`) is read exactly, not rounded."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


def format_path(path: Path) -> str:
    """`("products", "pro", "tiers", 0)` -> `products.pro.tiers[0]`.

    Mapping keys are joined with dots; list positions are `[i]` (0-based); a key with
    characters other than letters, digits, `_` and `-` is quoted: `metadata["a.b"]`.
    """
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif _PLAIN_SEGMENT.match(seg):
            out += f".{seg}" if out else seg
        else:
            out += f"[{json.dumps(seg, ensure_ascii=False)}]"
    return out


class Pos(NamedTuple):
    """A 1-based line and column (a tuple: one is made per node of the file)."""

    line: int
    column: int

    @classmethod
    def of(cls, node: yaml.Node) -> Pos:
        mark = node.start_mark
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class SourceMap:
    """Where each path's value node and (for mapping entries) key node start."""

    filename: str
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)

    def value(self, path: Path) -> Pos:
        """The value node at `path`, else the nearest located parent."""
        for n in range(len(path), -1, -1):
            pos = self.values.get(path[:n])
            if pos is not None:
                return pos
        return Pos(1, 1)

    def key(self, path: Path) -> Pos:
        """The key node of the entry at `path` (the node itself for list items and the root)."""
        pos = self.keys.get(path)
        return pos if pos is not None else self.value(path)


@dataclass(frozen=True)
class RawIssue:
    """An issue located by position, before it is bound to a file."""

    pos: Pos
    path: Path
    message: str


class _LimitExceeded(Exception):
    """The document is over a parse-time limit (nodes, nesting); carries the located issue."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


def _too_many_nodes(mark: Any) -> _LimitExceeded:
    return _LimitExceeded(
        Pos(mark.line + 1, mark.column + 1), f"document too large (more than {MAX_NODES} nodes)"
    )


def _too_deep() -> _LimitExceeded:
    return _LimitExceeded(
        Pos(1, 1), f"YAML document nested too deeply (more than {MAX_DEPTH} levels)"
    )


class _PyLoader(yaml.SafeLoader):
    """The pure-Python parser; composing counts nodes and depth as it goes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _too_many_nodes(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > MAX_PARSE_DEPTH:
            raise _too_deep()
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


#: What `_Builder` needs of a loader: `construct_object` (CSafeLoader or _PyLoader).
_Loader = yaml.constructor.SafeConstructor
# Per event type: (nodes it starts, nesting it adds).
_EVENT_STEP: dict[type, tuple[int, int]] = {
    yaml.ScalarEvent: (1, 0),
    yaml.AliasEvent: (1, 0),
    yaml.SequenceStartEvent: (1, 1),
    yaml.MappingStartEvent: (1, 1),
    yaml.SequenceEndEvent: (0, -1),
    yaml.MappingEndEvent: (0, -1),
}


def _check_events(text: str) -> None:
    """Count nodes and nesting with libyaml's event stream (constant memory), before composing."""
    nodes = depth = 0
    step = _EVENT_STEP.get
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        n, d = step(type(event), (0, 0))
        nodes += n
        depth += d
        if nodes > MAX_NODES:
            raise _too_many_nodes(event.start_mark)
        if depth > MAX_PARSE_DEPTH:
            raise _too_deep()


class _NodeBudgetSpent(Exception):
    """libyaml composed more than `MAX_NODES` nodes (see `_CLoader`)."""


class _CLoader(yaml.CSafeLoader):
    """libyaml's C composer, counting the nodes it makes as it goes.

    The composer calls `descend_resolver` once for every node it creates (explicitly tagged
    ones included; an alias creates none, it reuses its anchor's node), so counting there
    bounds the node tree's memory without a separate pass over the event stream. billing.yaml
    registers no path resolvers, so the resolver's own bookkeeping there has nothing to do.
    """

    def __init__(self, stream: str, budget: int) -> None:
        super().__init__(stream)
        self._budget = budget

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _NodeBudgetSpent

    def ascend_resolver(self) -> None:
        pass


# The counting above replaces path resolution, which PyYAML's safe loader never configures.
_COUNT_WHILE_COMPOSING = LIBYAML and not getattr(yaml.CSafeLoader, "yaml_path_resolvers", None)


def _compose(text: str, libyaml: bool) -> tuple[_Loader, yaml.Node | None]:
    """The document's node tree and the loader that made it (to construct scalars with)."""
    if libyaml:
        # A text shorter than half the node limit cannot hold more nodes than the limit (a node
        # takes at least about half a character): nothing to count. Longer texts are counted
        # while libyaml composes them; only a text over the limit is parsed again, event by
        # event, to place the error where the count (aliases included) passes the limit.
        # libyaml refuses nesting beyond 1,000 levels.
        counting = 2 * len(text) > MAX_NODES
        if counting and not _COUNT_WHILE_COMPOSING:
            _check_events(text)
        c_loader = (
            _CLoader(text, MAX_NODES)
            if counting and _COUNT_WHILE_COMPOSING
            else yaml.CSafeLoader(text)
        )
        try:
            return c_loader, c_loader.get_single_node()
        except _NodeBudgetSpent:
            _check_events(text)  # raises the located _LimitExceeded
            raise _LimitExceeded(
                Pos(1, 1), f"document too large (more than {MAX_NODES} nodes)"
            ) from None
        finally:
            c_loader.dispose()
    py_loader = _PyLoader(text)
    try:
        return py_loader, py_loader.get_single_node()
    finally:
        py_loader.dispose()


@dataclass
class Document:
    """The plain data of a YAML document, its source map and the issues found reading it."""

    data: Any
    source: SourceMap
    issues: list[RawIssue]
    #: Paths whose value was unusable and replaced by None (bad scalar, recursion, depth).
    voided: set[Path] = field(default_factory=set)


def _describe_yaml_error(err: yaml.YAMLError) -> tuple[Pos, str]:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        pos = Pos(mark.line + 1, mark.column + 1) if mark else Pos(1, 1)
        problem = err.problem or err.context or "invalid YAML"
        msg = f"YAML syntax error: {problem}"
        if problem == "but found another document":
            msg = "YAML syntax error: expected a single document in the stream, but found another document"
            if err.context_mark is not None:
                msg += f" (the first document starts at line {err.context_mark.line + 1})"
        elif err.context and err.problem and err.context_mark is not None:
            msg += f" ({err.context} at line {err.context_mark.line + 1})"
        if "<block end>" in problem or "mapping values are not allowed" in problem:
            msg += "; check the indentation"
        return pos, msg
    if isinstance(err, yaml.reader.ReaderError):
        return Pos(1, 1), f"YAML syntax error: unacceptable character #x{err.character:04x}"
    return Pos(1, 1), f"YAML syntax error: {err}"


def _reader_pos(text: str, err: yaml.reader.ReaderError) -> Pos:
    before = text[: err.position]
    line = before.count("\n") + 1
    return Pos(line, err.position - (before.rfind("\n") + 1) + 1)


def parse(text: str, filename: str, *, libyaml: bool = LIBYAML, positions: bool = True) -> Document:
    """Compose `text` and build plain data; syntax errors and limits end parsing with one issue.

    `libyaml=False` forces the pure-Python parser (the tests compare the two).
    `positions=False` leaves the source map empty (the issues found here are located all the
    same): a valid file never needs it, and it is one path and position per node, so the
    loader parses again with positions only to locate the issues of a later pass.
    """
    with no_gc():
        return _parse(text, filename, libyaml and LIBYAML, positions)


def _parse(text: str, filename: str, libyaml: bool, positions: bool = True) -> Document:
    source = SourceMap(filename)
    if libyaml and not positions:
        data = _plain_document(text)
        if data is not _UNPLAIN:
            return Document(data, source, [])
    use_c = libyaml and _libyaml_reads(text)
    try:
        try:
            loader, node = _compose(text, use_c)
        except yaml.YAMLError:
            if not use_c:
                raise
            # libyaml words errors differently: the Python parser gives the documented message.
            loader, node = _compose(text, False)
    except yaml.YAMLError as err:
        pos, msg = _describe_yaml_error(err)
        if isinstance(err, yaml.reader.ReaderError):
            pos = _reader_pos(text, err)
        return Document(None, source, [RawIssue(pos, (), msg)])
    except _LimitExceeded as err:
        return Document(None, source, [RawIssue(err.pos, (), err.message)])
    except RecursionError:
        return Document(None, source, [RawIssue(Pos(1, 1), (), str(_too_deep()))])
    if node is None:
        return Document(
            None,
            source,
            [RawIssue(Pos(1, 1), (), "the file is empty: expected a mapping with 'version: 1'")],
        )
    builder = _Builder(
        loader, source, text if isinstance(loader, yaml.CSafeLoader) else None, positions
    )
    data = builder.build(node, ())
    return Document(data, source, builder.issues, builder.voided)


class _Unplain(Exception):
    """The document is not a plain one (see `_plain_document`)."""


_UNPLAIN: Any = object()
#: First characters of the plain scalars YAML's implicit resolvers may read as something other
#: than a string (numbers, booleans, null, merge, ...): any other plain scalar is a string.
_RESOLVED_FIRST = frozenset(yaml.CSafeLoader.yaml_implicit_resolvers)


def _libyaml_reads(text: str) -> bool:
    """Whether libyaml reads `text`. Characters the Python reader refuses go straight to it,
    for its exact message; so do tabs, which libyaml accepts in a few places where the Python
    scanner refuses them."""
    return "\t" not in text and not yaml.reader.Reader.NON_PRINTABLE.search(text)


def _plain_document(text: str) -> Any:
    """The data of a plain document, built straight from libyaml's events; else `_UNPLAIN`.

    Plain: one document whose root is a mapping, with no anchor, alias, explicit tag, merge
    key, duplicate key, non-scalar key, control character, YAML 1.1 number, syntax error, or
    anything over the limits. Its data is exactly what composing and building gives (the
    tests compare the two), without a node tree: about half the CPU, and none of the node
    tree's memory (about 500 bytes a node, 1.1 million nodes for 100,000 objects). Anything
    else, and every document whose issues must be located, takes the node path.
    """
    if not _libyaml_reads(text):
        return _UNPLAIN
    loader = yaml.CSafeLoader(text)
    try:
        return _plain_events(loader, text)
    except (_Unplain, yaml.YAMLError, RecursionError):
        return _UNPLAIN
    finally:
        loader.dispose()


def _plain_events(loader: yaml.CSafeLoader, text: str) -> Any:
    get: Callable[[], Any] = loader.get_event
    if type(get()) is not yaml.StreamStartEvent or type(get()) is not yaml.DocumentStartEvent:
        raise _Unplain
    # Scalars other than strings and base-10 integers (floats, booleans, null) are built as
    # the node path builds them, from a node made for the one scalar.
    builder = _Builder(loader, SourceMap(""), None, positions=False)
    resolve: Callable[..., str] = loader.resolve
    # A control character comes from an escape ("\x07") or a raw NEL: none in most files.
    may_have_control = "\\" in text or "\x85" in text
    control = _CONTROL.search
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    no_key = _UNPLAIN
    parents: list[tuple[Any, bool, Any]] = []  # (container, is a mapping, its pending key)
    top: Any = None  # the innermost open mapping or list (None: at the root)
    in_mapping = False
    key: Any = no_key  # in a mapping: the key waiting for its value
    root: Any = _UNPLAIN
    nodes = 0  # keys and values, as `MAX_NODES` counts them
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_event:
            if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                raise _Unplain
            value: Any = event.value
            nodes += 1
            if in_mapping and key is no_key:
                # A mapping key: its text as written, as the node path keys it.
                if value == "<<" or value in top or (may_have_control and control(value)):
                    raise _Unplain
                key = value
                continue
            if event.implicit[0] and (not value or value[0] in _RESOLVED_FIRST):
                tag = resolve(yaml.ScalarNode, value, event.implicit)
                if tag == _STR_TAG:
                    pass
                elif tag == _INT_TAG and _BASE10_INT.match(value):
                    value = int(value.replace("_", ""))
                else:
                    node = yaml.ScalarNode(
                        tag, value, event.start_mark, event.end_mark, event.style
                    )
                    value = builder.scalar(node, ())
                    if builder.issues:
                        raise _Unplain
            if may_have_control and type(value) is str and control(value):
                raise _Unplain
        elif kind is mapping_start or kind is sequence_start:
            if event.anchor is not None or (event.tag is not None and event.tag != "!"):
                raise _Unplain
            if (in_mapping and key is no_key) or len(parents) >= MAX_DEPTH:
                raise _Unplain  # a mapping or list as a key; or nested too deeply
            nodes += 1
            if nodes > MAX_NODES:
                raise _Unplain
            parents.append((top, in_mapping, key))
            in_mapping = kind is mapping_start
            top, key = ({} if in_mapping else []), no_key
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            value = top
            top, in_mapping, key = parents.pop()
        elif kind is yaml.DocumentEndEvent:
            if type(get()) is not yaml.StreamEndEvent or type(root) is not dict:
                raise _Unplain
            return root
        else:  # an alias
            raise _Unplain
        if nodes > MAX_NODES:
            raise _Unplain
        if in_mapping:
            top[key] = value
            key = no_key
        elif top is not None:
            top.append(value)
        else:
            root = value


_BREAKS = "\n\r\x85\u2028\u2029"
_BLANKS = " \t" + _BREAKS


def _python_empty_pos(text: str, node: yaml.Node) -> Pos:
    """Where the Python parser puts an empty scalar that libyaml put at `node.start_mark`.

    libyaml marks an empty value at the next token (`{a: , b}`: the comma), the Python parser
    right after the previous one (the colon); only blanks lie between the two. Every other
    node has the same mark in both parsers, except an empty value after an explicit key
    (`? key` with no `:` line), which the Python parser places at the next line.
    """
    mark = node.start_mark
    end = min(mark.index, len(text))
    start = end
    while start > 0 and text[start - 1] in _BLANKS:
        start -= 1
    if start == mark.index < len(text):
        return Pos.of(node)
    line_start = start
    while line_start > 0 and text[line_start - 1] not in _BREAKS:
        line_start -= 1
    if mark.index >= len(text):  # libyaml's mark is past an implied final line break
        between = text[:start]
        offset = 0
    else:
        between = text[start:end]
        offset = mark.line
    breaks = sum(between.count(b) for b in _BREAKS) - between.count("\r\n")
    line = mark.line - breaks if offset else breaks
    return Pos(line + 1, start - line_start + 1)


_new_tuple = tuple.__new__


class _Builder:
    def __init__(
        self,
        loader: _Loader,
        source: SourceMap,
        c_text: str | None = None,
        positions: bool = True,
    ) -> None:
        self.loader = loader
        self.source = source
        #: Whether `source` records every key's and value's position (see `parse`).
        self.positions = positions
        #: The text, when libyaml composed it (empty scalars are then placed as Python does).
        self.c_text = c_text
        self.issues: list[RawIssue] = []
        self.voided: set[Path] = set()
        self.count = 0
        self.stack: set[int] = set()

    def pos(self, node: yaml.Node) -> Pos:
        if self.c_text is not None and node.value == "" and not getattr(node, "style", None):
            return _python_empty_pos(self.c_text, node)
        mark = node.start_mark
        # Pos.of without its two Python calls: this runs once per node of the file.
        return _new_tuple(Pos, (mark.line + 1, mark.column + 1))

    def issue(self, node: yaml.Node, path: Path, message: str) -> None:
        self.issues.append(RawIssue(self.pos(node), path, message))

    def void(self, node: yaml.Node, path: Path, message: str) -> None:
        """Report an unusable value; later passes ignore everything at and under `path`."""
        self.issue(node, path, message)
        self.voided.add(path)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.issue(
                    node,
                    path,
                    f"document too large: aliases expand to more than {MAX_NODES} values",
                )
            self.voided.add(path)
            return None
        if self.positions:
            self.source.values.setdefault(path, self.pos(node))
        if len(path) > MAX_DEPTH:
            self.void(node, path[:MAX_DEPTH], f"nested too deeply (more than {MAX_DEPTH} levels)")
            return None
        if id(node) in self.stack:
            self.void(node, path, "recursive alias: a node cannot contain itself")
            return None
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
        finally:
            self.stack.discard(id(node))
        self.issue(node, path, "unsupported YAML node")  # pragma: no cover
        return None

    def scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag == _STR_TAG:
            return self.text(node, path, node.value)
        if tag == _INT_TAG:
            if not _BASE10_INT.match(node.value):
                return self.yaml11_number(node, path)
            # What PyYAML's int constructor returns for base 10, without its per-node
            # bookkeeping (it keeps every constructed node until the loader is disposed).
            return int(node.value.replace("_", ""))
        if tag == _FLOAT_TAG and not _PLAIN_FLOAT.match(node.value):
            return self.yaml11_number(node, path)
        try:
            value = self.loader.construct_object(node, deep=True)
        except Exception as err:  # PyYAML raises ValueError etc. for e.g. 2024-13-45
            problem = getattr(err, "problem", None) or str(err)
            self.void(node, path, f"invalid value {node.value!r}: {problem}")
            return None
        if tag == _FLOAT_TAG and isinstance(value, float):
            return YamlFloat(value, node.value.replace("_", ""))
        return value

    def text(self, node: yaml.Node, path: Path, value: str) -> str | Unusable:
        bad = _CONTROL.search(value)
        if bad is None:
            return value
        self.void(
            node,
            path,
            f"contains the control character U+{ord(bad.group()):04X}: Stripe refuses control "
            "characters (tabs and line breaks are allowed)",
        )
        return UNUSABLE

    def yaml11_number(self, node: yaml.ScalarNode, path: Path) -> Unusable:
        """`0100`, `0x3E8`, `0b11`, `1:30`, `1.0e+3`: YAML 1.1 reads them, silently, as numbers
        nobody meant (64, 1000, 3, 90, 1000.0); billing.yaml refuses them."""
        text = node.value
        digits = text.lstrip("+-")
        if ":" in text:
            kind = "a base-60 (sexagesimal) number"
        elif digits[:2] in ("0x", "0X"):
            kind = "a hexadecimal number"
        elif digits[:2] in ("0b", "0B"):
            kind = "a binary number"
        elif node.tag == _FLOAT_TAG:
            kind = "a number with an exponent"
        else:
            kind = "an octal number (leading zero)"
        try:
            read_as = f" (it would be read as {self.loader.construct_object(node, deep=True)!r})"
        except Exception:
            read_as = ""
        self.void(
            node,
            path,
            f"{text} is {kind} in YAML 1.1{read_as}: write it in base 10 with plain digits "
            f'(no leading zeros), or quote it ("{text}") if it is text',
        )
        return UNUSABLE

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_node: dict[str, yaml.Node] = {}  # its line is looked up for a duplicate only
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.extend(self.merge_sources(value_node, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(
                    key_node, path, "a mapping key must be a plain value, not a list or mapping"
                )
                continue
            key = str(key_node.value)
            sub = (*path, key)
            if self.text(key_node, sub, key) is UNUSABLE:
                continue
            first = first_node.get(key)
            if first is not None:
                self.issue(
                    key_node,
                    sub,
                    f"duplicate key {key!r} (first defined at line {self.pos(first).line})",
                )
                continue
            first_node[key] = key_node
            if self.positions:
                self.source.keys[sub] = self.pos(key_node)
            out[key] = self.build(value_node, sub)
        for key_node, value_node in merged:
            key = str(key_node.value)
            if key not in out:
                sub = (*path, key)
                if self.positions:
                    self.source.keys.setdefault(sub, self.pos(key_node))
                out[key] = self.build(value_node, sub)
        return out

    def merge_sources(self, value: yaml.Node, path: Path) -> list[tuple[yaml.Node, yaml.Node]]:
        """Entries of a `<<: *anchor` (or `<<: [*a, *b]`) merge, earlier sources first."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        entries: list[tuple[yaml.Node, yaml.Node]] = []
        for src in sources:
            if not isinstance(src, yaml.MappingNode) or id(src) in self.stack:
                self.issue(src, path, "'<<' merges only mappings")
                continue
            entries.extend(
                (k, v)
                for k, v in src.value
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"
            )
        return entries
