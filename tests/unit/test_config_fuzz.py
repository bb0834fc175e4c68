"""Property test: whatever text is given, the loader returns a BillingConfig or raises
ConfigError with located issues; it never raises anything else. libyaml's C parser and the
pure-Python parser read every text to the same data, positions and issues."""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_sync.config import source
from billing_sync.config.loader import load_text
from billing_sync.config.models import BillingConfig
from billing_sync.errors import ConfigError
from tests.helpers import EXAMPLE

EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE = yaml.safe_load(EXAMPLE_TEXT)
LINES = EXAMPLE_TEXT.splitlines()

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Tags (`!`, `!:`, `!!int`) on empty values and keys are where the two parsers part: libyaml
# reads a bare `!` as '' (as the YAML spec says) and the Python parser as null, and they place
# tagged empty keys (`? !:`, `<<: !:`) a column apart. billing.yaml never needs tags, so texts
# with one are not compared (each parser's own result is still checked by `check`).
TAG = re.compile(r"!")


def _empty_paths(data: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    if data is None or data == "":
        return {path}
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    return {p for k, v in items for p in _empty_paths(v, (*path, k))}


def same_with_both_parsers(text: str) -> None:
    """libyaml and the Python parser: same data, same issues, same positions.

    Known exception: the two parsers may place an *empty* value (`a:` with nothing after it,
    `? key`, an empty block scalar) a column or a line apart; those positions are not compared.
    """
    if TAG.search(text):
        return
    c = source.parse(text, "billing.yaml", libyaml=True)
    py = source.parse(text, "billing.yaml", libyaml=False)

    def syntax(doc: source.Document) -> bool:
        return any(i.message.startswith("YAML syntax error") for i in doc.issues)

    if syntax(py) and not syntax(c):
        return  # libyaml reads a few texts PyYAML's scanner refuses: `[a?b]`, `|#`

    assert repr(c.data) == repr(py.data)  # repr: NaN is not equal to itself
    assert c.voided == py.voided
    assert c.source.keys == py.source.keys
    assert [(i.path, i.message) for i in c.issues] == [(i.path, i.message) for i in py.issues]
    empty = _empty_paths(py.data)
    assert {p: v for p, v in c.source.values.items() if p not in empty} == {
        p: v for p, v in py.source.values.items() if p not in empty
    }
    if not empty and py.data is not None:
        assert c.issues == py.issues


def typed(value: Any) -> Any:
    """`value` with every scalar's type spelled out (True is not 1, 1.0 is not 1, a YamlFloat
    keeps its text) and mappings in their order."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, repr(value), getattr(value, "text", None))


def same_plain_and_nodes(text: str) -> None:
    """A document read from libyaml's events (the plain path) is read exactly as the node
    path reads it, and only documents the node path reads without any issue are plain."""
    plain = source._plain_document(text)
    if plain is source._UNPLAIN:
        return
    nodes = source.parse(text, "billing.yaml", positions=True)  # always the node path
    assert not nodes.issues and not nodes.voided
    assert typed(plain) == typed(nodes.data)


def check(text: str) -> None:
    if source.LIBYAML:
        same_with_both_parsers(text)
        same_plain_and_nodes(text)
    try:
        cfg = load_text(text, "billing.yaml")
    except ConfigError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.file == "billing.yaml"
            assert issue.line >= 1
            assert issue.column >= 1
            assert issue.message
            assert "\n" not in str(issue)
    else:
        assert isinstance(cfg, BillingConfig)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


ALL_PATHS = [p for p in paths(EXAMPLE) if p]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["inf", "usd", "USD", "jpy", "19.999", "-1", "month", "send_invoice", ""]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def set_at(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    parent = doc
    for seg in path[:-1]:
        parent = parent[seg]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(ALL_PATHS), SCALARS, st.booleans()), min_size=1, max_size=4)
)
def test_mutated_example(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    doc = copy.deepcopy(EXAMPLE)
    for path, value, delete in mutations:
        try:
            set_at(doc, path, value, delete)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the parent
    check(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


@SETTINGS
@given(
    st.integers(min_value=0, max_value=len(LINES) - 1),
    st.sampled_from(["dup", "drop", "indent", "junk"]),
    st.text(max_size=20),
)
def test_line_edits_of_example(index: int, how: str, junk: str) -> None:
    lines = list(LINES)
    if how == "dup":
        lines.insert(index, lines[index])  # duplicate keys (or a duplicate list item)
    elif how == "drop":
        del lines[index]
    elif how == "indent":
        lines[index] = " " + lines[index]
    else:
        lines[index] = lines[index][: len(lines[index]) // 2] + junk
    check("\n".join(lines) + "\n")


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    check(data.decode("utf-8", errors="replace"))


@SETTINGS
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=len(EXAMPLE_TEXT)))
def test_random_bytes_spliced_into_example(data: bytes, at: int) -> None:
    check(EXAMPLE_TEXT[:at] + data.decode("latin-1") + EXAMPLE_TEXT[at:])


YAML_TOKENS = st.sampled_from(
    [
        ":",
        " ",
        "\n",
        "  ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "&a ",
        "*a",
        "<<: ",
        "? ",
        "!",
        "!!int ",
        "'",
        '"',
        "#",
        "|",
        ">",
        "---",
        "...",
        "version",
        "products",
        "prices",
        "1",
        "inf",
        "~",
        "\t",
        "%YAML 1.1",
        "2024-13-45",
    ]
)


@SETTINGS
@given(st.lists(st.one_of(YAML_TOKENS, st.text(max_size=5)), max_size=40))
def test_yamlish_text(tokens: list[str]) -> None:
    check("".join(tokens))


@SETTINGS
@given(
    st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    ["version", "products", "prices", "name", "currency", "items", "x"]
                ),
                children,
                max_size=4,
            ),
        ),
        max_leaves=15,
    )
)
def test_arbitrary_documents(doc: Any) -> None:
    check(yaml.safe_dump(doc, allow_unicode=True))
