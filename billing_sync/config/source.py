"""YAML -> plain data, keeping file/line/column of every mapping key and value.

PyYAML's own constructor forgets positions and silently keeps the last of two duplicate
keys. Here the document is composed into a node tree with `yaml.SafeLoader` and turned into
dicts, lists and scalars by hand, so every node's position is recorded under its path, and
duplicate keys, non-scalar keys, unknown tags and recursive aliases become located issues.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

#: Stop expanding aliases beyond this many nodes ("billion laughs").
MAX_NODES = 100_000
#: billing.yaml is a handful of levels deep; deeper documents are refused, not recursed into.
MAX_DEPTH = 64

_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


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


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int

    @classmethod
    def of(cls, node: yaml.Node) -> Pos:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


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


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to compose nodes and construct scalars."""


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


def parse(text: str, filename: str) -> Document:
    """Compose `text` and build plain data; syntax errors end parsing with one issue."""
    source = SourceMap(filename)
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except yaml.YAMLError as err:
        pos, msg = _describe_yaml_error(err)
        if isinstance(err, yaml.reader.ReaderError):
            pos = _reader_pos(text, err)
        return Document(None, source, [RawIssue(pos, (), msg)])
    except RecursionError:
        msg = f"YAML document nested too deeply (more than {MAX_DEPTH} levels)"
        return Document(None, source, [RawIssue(Pos(1, 1), (), msg)])
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return Document(
            None,
            source,
            [RawIssue(Pos(1, 1), (), "the file is empty: expected a mapping with 'version: 1'")],
        )
    builder = _Builder(loader, source)
    data = builder.build(node, ())
    return Document(data, source, builder.issues, builder.voided)


class _Builder:
    def __init__(self, loader: _Loader, source: SourceMap) -> None:
        self.loader = loader
        self.source = source
        self.issues: list[RawIssue] = []
        self.voided: set[Path] = set()
        self.count = 0
        self.stack: set[int] = set()

    def issue(self, node: yaml.Node, path: Path, message: str) -> None:
        self.issues.append(RawIssue(Pos.of(node), path, message))

    def void(self, node: yaml.Node, path: Path, message: str) -> None:
        """Report an unusable value; later passes ignore everything at and under `path`."""
        self.issue(node, path, message)
        self.voided.add(path)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.issue(node, path, f"document too large (more than {MAX_NODES} nodes)")
            self.voided.add(path)
            return None
        self.source.values.setdefault(path, Pos.of(node))
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
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as err:  # PyYAML raises ValueError etc. for e.g. 2024-13-45
            problem = getattr(err, "problem", None) or str(err)
            self.void(node, path, f"invalid value {node.value!r}: {problem}")
            return None

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
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
            if key in first_line:
                self.issue(
                    key_node,
                    sub,
                    f"duplicate key {key!r} (first defined at line {first_line[key]})",
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.source.keys[sub] = Pos.of(key_node)
            out[key] = self.build(value_node, sub)
        for key_node, value_node in merged:
            key = str(key_node.value)
            if key not in out:
                sub = (*path, key)
                self.source.keys.setdefault(sub, Pos.of(key_node))
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
