"""The billing.yaml loader: positions, duplicate keys, YAML errors, exact bad-input messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing_sync.config import source
from billing_sync.config.loader import config_path, load_config, load_text
from billing_sync.config.source import format_path
from billing_sync.errors import ConfigError
from tests.helpers import BAD_CONFIGS, EXAMPLE, expected_messages

BAD = BAD_CONFIGS
EXPECTED = expected_messages()
FIXTURES = sorted(p.name for p in BAD.glob("*.yaml"))


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, "billing.yaml")
    return [str(i) for i in info.value.issues]


def test_every_fixture_has_expectations() -> None:
    assert len(FIXTURES) >= 30
    assert sorted(EXPECTED) == FIXTURES
    assert all(EXPECTED[name] for name in FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_bad_fixture_exact_messages(name: str) -> None:
    assert errors_of((BAD / name).read_text(encoding="utf-8")) == EXPECTED[name]
    # Loaded from its path, as `validate -c PATH` loads it: the same messages, naming PATH.
    path = str(BAD / name)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(i) for i in info.value.issues] == [
        line.replace("billing.yaml:", f"{path}:", 1) for line in EXPECTED[name]
    ]


def test_example_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert set(cfg.products) == {"basic", "pro", "seats", "onboarding", "ai"}
    index = cfg.price_index()
    assert index["pro-monthly-jpy"][0] == "pro"
    assert index["pro-monthly-jpy"][1].minor_amount() == 4200
    assert index["basic-yearly"][1].minor_amount() == 9000
    assert index["seats-graduated"][1].minor_amount() is None
    assert index["pro-monthly"][1].currency_options["eur"].minor_amount("eur") == 2700


def test_location_of_nodes() -> None:
    cfg = load_config(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8").splitlines()
    loc = cfg.location("products", "pro", "prices", "pro-monthly-jpy", "currency")
    assert loc is not None
    file, line, col = loc.rsplit(":", 2)
    assert file == str(EXAMPLE)
    assert text[int(line) - 1][int(col) - 1 :] == "jpy"
    # An unknown child falls back to its nearest located parent.
    assert cfg.location("products", "pro", "nope") == cfg.location("products", "pro")
    assert load_text("version: 1\n").location("products") == "billing.yaml:1:1"


def test_all_errors_reported_at_once() -> None:
    text = """\
version: 1
products:
  pro:
    name: Pro
    statement_descriptor: "<>"
    prices:
      pro-monthly:
        currency: usdd
        unit_amount: 100
      pro-yearly:
        currency: usd
        amount: "19.999"
        recurring: {interval: yearly}
      one-time:
        currency: usd
        unit_amount: -1
customers:
  acme:
    metadata: {tier: 1}
    subscriptions:
      main:
        collection_method: send_invoice
        items:
          - {price: nope}
          - {price: pro-monthly, quantity: 0}
      extra:
        collection_method: send_invoice
        items: [{price: pro-yearly}]
policies:
  max_destroy_percent: -3
"""
    assert errors_of(text) == [
        "billing.yaml:5:27: products.pro.statement_descriptor: must be at least 5 characters, got 2: '<>'",
        "billing.yaml:8:19: products.pro.prices.pro-monthly.currency: 'usdd' is not a currency Stripe supports",
        "billing.yaml:13:31: products.pro.prices.pro-yearly.recurring.interval: expected one of day, week, month, year; got 'yearly' (did you mean 'year'?)",
        "billing.yaml:16:22: products.pro.prices.one-time.unit_amount: must not be negative, got -1",
        'billing.yaml:19:22: customers.acme.metadata.tier: expected a string, got 1 (quote it: "1")',
        "billing.yaml:24:21: customers.acme.subscriptions.main.items[0].price: unknown price 'nope'",
        "billing.yaml:25:44: customers.acme.subscriptions.main.items[1].quantity: must be at least 1, got 0",
        "billing.yaml:26:7: customers.acme.subscriptions.extra: days_until_due is required with collection_method: send_invoice",
        "billing.yaml:30:24: policies.max_destroy_percent: must not be negative, got -3",
    ]


def test_duplicate_keys_everywhere_reported() -> None:
    text = "version: 1\nversion: 1\ncustomers:\n  a: {name: x, name: y}\n"
    assert errors_of(text) == [
        "billing.yaml:2:1: version: duplicate key 'version' (first defined at line 1)",
        "billing.yaml:4:16: customers.a.name: duplicate key 'name' (first defined at line 4)",
    ]


def test_errors_inside_a_duplicated_key_are_still_reported() -> None:
    text = "version: 1\nproducts:\n  pro:\n    name: 5\n  pro:\n    name: Pro\n"
    assert errors_of(text) == [
        'billing.yaml:4:11: products.pro.name: expected a string, got 5 (quote it: "5")',
        "billing.yaml:5:3: products.pro: duplicate key 'pro' (first defined at line 3)",
    ]


def test_duplicate_keys_differently_quoted() -> None:
    text = "version: 1\ncustomers:\n  acme: {}\n  'acme': {}\n"
    assert errors_of(text) == [
        "billing.yaml:4:3: customers.acme: duplicate key 'acme' (first defined at line 3)"
    ]


def test_merge_keys_and_aliases() -> None:
    text = """\
version: 1
products:
  pro:
    name: Pro
    prices:
      a: &monthly {currency: usd, recurring: {interval: month}, unit_amount: 100}
      b:
        <<: *monthly
        unit_amount: 200
"""
    cfg = load_text(text)
    b = cfg.products["pro"].prices["b"]
    assert (b.unit_amount, b.currency, b.recurring and b.recurring.interval) == (
        200,
        "usd",
        "month",
    )


def test_merge_of_a_scalar_is_an_error() -> None:
    text = "version: 1\ncustomers:\n  a:\n    <<: 5\n"
    assert errors_of(text) == ["billing.yaml:4:9: customers.a: '<<' merges only mappings"]


def test_recursive_alias() -> None:
    text = "version: 1\ncustomers: &c\n  a:\n    metadata: *c\n"
    assert errors_of(text) == [
        "billing.yaml:2:12: customers.a.metadata: recursive alias: a node cannot contain itself"
    ]


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    errors = errors_of("\n".join(lines) + "\n")
    assert any("document too large" in e for e in errors)


def test_non_scalar_key() -> None:
    text = "version: 1\n? [a, b]\n: 1\n"
    assert errors_of(text) == [
        "billing.yaml:2:3: a mapping key must be a plain value, not a list or mapping"
    ]


def test_multiple_documents() -> None:
    assert errors_of("version: 1\n---\nversion: 1\n") == [
        "billing.yaml:2:1: YAML syntax error: expected a single document in the stream, but found another document (the first document starts at line 1)"
    ]


def test_tab_indentation() -> None:
    assert errors_of("version: 1\nproducts:\n\tpro: {}\n") == [
        "billing.yaml:3:1: YAML syntax error: found character '\\t' that cannot start any token"
    ]


def test_control_character() -> None:
    assert errors_of("version: 1\nx: \x07\n") == [
        "billing.yaml:2:4: YAML syntax error: unacceptable character #x0007"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "billing.yaml:1:1: the file is empty: expected a mapping with 'version: 1'"),
        (
            "   \n# only a comment\n",
            "billing.yaml:1:1: the file is empty: expected a mapping with 'version: 1'",
        ),
        ("~\n", "billing.yaml:1:1: expected a mapping (key: value) at the top level, got null"),
        (
            "just text\n",
            "billing.yaml:1:1: expected a mapping (key: value) at the top level, got 'just text'",
        ),
        ("42\n", "billing.yaml:1:1: expected a mapping (key: value) at the top level, got 42"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, message: str) -> None:
    assert errors_of(text) == [message]


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"{missing}:1:1: cannot read file: No such file or directory"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"version: 1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(binary)


def test_file_name_in_messages(tmp_path: Path) -> None:
    f = tmp_path / "custom.yaml"
    f.write_text("version: 1\nprodcts: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert (
        str(info.value) == f"{f}:2:1: prodcts: unknown field 'prodcts' (did you mean 'products'?)"
    )


def test_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BILLING_SYNC_CONFIG", raising=False)
    assert config_path(None) == Path("billing.yaml")
    monkeypatch.setenv("BILLING_SYNC_CONFIG", "other.yaml")
    assert config_path(None) == Path("other.yaml")
    assert config_path("given.yaml") == Path("given.yaml")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (
            ("products", "pro", "prices", "pro-monthly", "currency"),
            "products.pro.prices.pro-monthly.currency",
        ),
        (
            ("customers", "a", "subscriptions", "main", "items", 0, "price"),
            "customers.a.subscriptions.main.items[0].price",
        ),
        (("customers", "a", "metadata", "a.b"), 'customers.a.metadata["a.b"]'),
        (("x y",), '["x y"]'),
        ((), ""),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_unknown_field_without_close_match_lists_fields() -> None:
    text = "version: 1\npolicies:\n  zzz: 1\n"
    assert errors_of(text) == [
        "billing.yaml:3:3: policies.zzz: unknown field 'zzz' (expected one of: subscription_removal, proration_behavior, max_destroy_percent, max_update_percent, min_objects_for_thresholds)"
    ]


def test_nested_unknown_field_hint_in_list_item() -> None:
    text = """\
version: 1
products:
  p:
    name: P
    prices:
      m: {currency: usd, unit_amount: 1, recurring: {interval: month}}
customers:
  c:
    subscriptions:
      s:
        items:
          - {price: m, quantty: 2}
"""
    assert errors_of(text) == [
        "billing.yaml:12:24: customers.c.subscriptions.s.items[0].quantty: unknown field 'quantty' (did you mean 'quantity'?)"
    ]


def test_deeply_nested_documents_are_refused() -> None:
    assert errors_of("a: " + "[" * 3000 + "]" * 3000 + "\n") == [
        "billing.yaml:1:1: YAML document nested too deeply (more than 64 levels)"
    ]
    errors = errors_of("x: " + "[" * 70 + "]" * 70 + "\n")
    assert "nested too deeply (more than 64 levels)" in errors[-1]


# --- libyaml (issue 14) ----------------------------------------------------------------------


def test_libyaml_is_used() -> None:
    """PyYAML here is built with libyaml, and the loader really composes with its C parser."""
    import yaml

    from billing_sync.config import source

    assert yaml.__with_libyaml__
    assert source.LIBYAML
    assert source.PARSER.startswith("libyaml")


@pytest.mark.parametrize("name", FIXTURES)
def test_bad_fixtures_same_with_the_python_parser(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without libyaml (fallback) every fixture reads the same messages, positions included."""
    from billing_sync.config import source

    monkeypatch.setattr(source, "LIBYAML", False)
    assert errors_of((BAD / name).read_text(encoding="utf-8")) == EXPECTED[name]


def test_example_same_positions_with_both_parsers() -> None:
    from billing_sync.config import source

    text = EXAMPLE.read_text(encoding="utf-8")
    c = source.parse(text, "billing.yaml", libyaml=True)
    py = source.parse(text, "billing.yaml", libyaml=False)
    assert c.data == py.data
    assert c.source == py.source
    assert len(c.source.values) > 50


def test_syntax_errors_read_as_the_python_parser_words_them() -> None:
    """libyaml says 'did not find expected key'; the documented message is kept."""
    text = "version: 1\nproducts:\n  pro:\n    name: Pro\n   bad: 1\n"
    assert errors_of(text) == [
        "billing.yaml:5:4: YAML syntax error: expected <block end>, but found '<block mapping start>' (while parsing a block mapping at line 3); check the indentation"
    ]


# --- file input (issue 11) -------------------------------------------------------------------


def read_error(path: Path | str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    import os

    assert (
        read_error("/dev/zero")
        == "/dev/zero:1:1: cannot read file: a character device, not a regular file"
    )
    assert (
        read_error(tmp_path) == f"{tmp_path}:1:1: cannot read file: a directory, not a regular file"
    )
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: opening it must not block
    assert (
        read_error(fifo) == f"{fifo}:1:1: cannot read file: a FIFO (named pipe), not a regular file"
    )
    link = tmp_path / "link.yaml"
    link.symlink_to(EXAMPLE)
    assert set(load_config(link).products) == {"basic", "pro", "seats", "onboarding", "ai"}


def test_size_limit_is_checked_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billing_sync.config import loader

    big = tmp_path / "big.yaml"
    # Not YAML at all: a parse would report a syntax error, the size check comes first.
    big.write_bytes(b"[" * (loader.MAX_CONFIG_BYTES + 1))
    assert read_error(big) == (
        f"{big}:1:1: cannot read file: 16,777,217 bytes is larger than the 16,777,216-byte limit "
        "for billing.yaml (set BILLING_SYNC_MAX_CONFIG_BYTES to raise it)"
    )
    monkeypatch.setenv("BILLING_SYNC_MAX_CONFIG_BYTES", "100")
    small = tmp_path / "small.yaml"
    small.write_text("version: 1\ncustomers:\n" + "".join(f"  c{i}: {{}}\n" for i in range(20)))
    assert "bytes is larger than the 100-byte limit" in read_error(small)
    monkeypatch.setenv("BILLING_SYNC_MAX_CONFIG_BYTES", "100000")
    assert len(load_config(small).customers) == 20
    monkeypatch.setenv("BILLING_SYNC_MAX_CONFIG_BYTES", "junk")  # ignored: the default applies
    assert len(load_config(small).customers) == 20


def test_node_limit_is_enforced_while_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    from billing_sync.config import source

    monkeypatch.setattr(source, "MAX_NODES", 40)
    text = "version: 1\ncustomers:\n" + "".join(f"  c{i}: {{}}\n" for i in range(30))
    # The 41st node: root, version (key, value), customers (key, value), then c0 .. c17's `{}`.
    expected = ["billing.yaml:20:8: document too large (more than 40 nodes)"]
    assert errors_of(text) == expected  # libyaml: counted on its event stream
    monkeypatch.setattr(source, "LIBYAML", False)
    assert errors_of(text) == expected  # Python parser: counted while composing


def test_nodes_are_counted_while_libyaml_composes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the limit, a counted document is composed in one pass (no event pass first)."""
    from billing_sync.config import source

    if not source.LIBYAML:
        pytest.skip("PyYAML without libyaml")

    def no_second_pass(text: str) -> None:
        raise AssertionError("the event stream was parsed although the document is under the limit")

    monkeypatch.setattr(source, "MAX_NODES", 40)
    monkeypatch.setattr(source, "_check_events", no_second_pass)
    text = "version: 1\ncustomers:\n" + "".join(f"  c{i}: {{}}\n" for i in range(17))
    assert 2 * len(text) > 40  # long enough to be counted
    assert len(load_text(text).customers) == 17  # 1 + 2 + 2 + 2 x 17 = 39 nodes


def test_explicitly_tagged_nodes_count_towards_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from billing_sync.config import source

    monkeypatch.setattr(source, "MAX_NODES", 40)
    text = "version: 1\ncustomers:\n" + "".join(f"  c{i}: !!map {{}}\n" for i in range(30))
    assert errors_of(text) == ["billing.yaml:20:8: document too large (more than 40 nodes)"]


def test_alias_expansion_is_bounded_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    from billing_sync.config import source

    monkeypatch.setattr(source, "MAX_NODES", 1000)
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    text += "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    # 1 + 1 + 10 + 1 + 10 + 100 + 1 + ... : the 1001st value is c[7][8][9] (an x of anchor a).
    assert [e for e in errors_of(text) if "too large" in e] == [
        "billing.yaml:1:35: c[7][8][9]: document too large: aliases expand to more than 1000 values"
    ]


# --- numbers and strings read exactly (issue 11) ---------------------------------------------


def test_base10_numbers_and_limits_accepted() -> None:
    text = """\
version: 1
products:
  pro:
    name: Pro
    description: "Line one\\n\\tline two"
    url: https://example.com/pro
    marketing_features: [SSO]
    prices:
      a: {currency: usd, unit_amount: 99_999_999}
      b: {currency: usd, amount: 999999.99}
      c: {currency: jpy, amount: "99999999"}
      d: {currency: usd, unit_amount: 0, recurring: {interval: month}}
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 730
        items: [{price: d, quantity: 99999999}]
policies:
  max_destroy_percent: 12.5
"""
    cfg = load_text(text)
    prices = cfg.products["pro"].prices
    assert [prices[k].minor_amount() for k in "abcd"] == [99_999_999, 99_999_999, 99_999_999, 0]
    assert cfg.products["pro"].description == "Line one\n\tline two"
    assert cfg.policies.max_destroy_percent == 12.5


def test_bare_float_amount_is_read_as_written() -> None:
    text = "version: 1\nproducts:\n  p:\n    name: P\n    prices:\n      a: {currency: usd, amount: 19.90}\n"
    assert load_text(text).products["p"].prices["a"].amount == "19.90"


@pytest.mark.parametrize("key", ['"a\\0b"', '"\\x7f"'])
def test_control_characters_in_keys(key: str) -> None:
    errors = errors_of(f"version: 1\ncustomers:\n  acme:\n    metadata: {{{key}: v}}\n")
    assert len(errors) == 1
    assert "contains the control character" in errors[0]
    assert errors[0].startswith("billing.yaml:4:16: customers.acme.metadata[")


def test_parsing_without_positions_gives_the_same_data_and_issues() -> None:
    """The loader's first pass records no positions; what it finds must not depend on that."""
    from billing_sync.config import source

    text = EXAMPLE.read_text(encoding="utf-8") + "policies: {x: 1}\npolicies: {}\nbad: 0x10\n"
    with_map = source.parse(text, "billing.yaml")
    without = source.parse(text, "billing.yaml", positions=False)
    assert without.data == with_map.data
    assert without.issues == with_map.issues and len(with_map.issues) == 3  # 2 dup., 1 hex
    assert without.voided == with_map.voided
    assert with_map.source.values and with_map.source.keys
    assert not without.source.values and not without.source.keys


# -- the plain path: documents built straight from libyaml's events ----------------------------
GOOD_CONFIGS = sorted(
    (Path(__file__).parent.parent / "fixtures" / "config" / "good").glob("*.yaml")
)


@pytest.mark.skipif(not source.LIBYAML, reason="the plain path reads libyaml's events")
@pytest.mark.parametrize("path", [EXAMPLE, *GOOD_CONFIGS], ids=lambda p: p.name)
def test_valid_files_take_the_plain_path(path: Path) -> None:
    """Every valid file is read without a node tree, to the data the node path builds."""
    text = path.read_text(encoding="utf-8")
    plain = source._plain_document(text)
    assert plain is not source._UNPLAIN
    assert plain == source.parse(text, path.name, positions=True).data


UNPLAIN = {
    "anchor and alias": "version: 1\na: &x {b: 1}\nc: *x\n",
    "merge key": "version: 1\na: {b: 1}\nc:\n  <<: {d: 2}\n",
    "quoted merge-looking key": 'version: 1\n"<<": 1\n',
    "explicit tag": "version: !!int 1\n",
    "tagged mapping": "version: 1\na: !!map {b: 1}\n",
    "duplicate key": "version: 1\nversion: 1\n",
    "mapping as a key": "version: 1\n? {a: 1}\n: 2\n",
    "list as a key": "version: 1\n? [a]\n: 2\n",
    "control character": 'version: 1\nname: "a\\x07b"\n',
    "control character in a key": 'version: 1\n"a\\x07b": 1\n',
    "octal number": "version: 1\nn: 0100\n",
    "number with an exponent": "version: 1\nn: 1.0e+3\n",
    "two documents": "version: 1\n---\nversion: 1\n",
    "a list at the top": "- version: 1\n",
    "empty": "",
    "syntax error": "version: 1\n  a: [\n",
    "too deep": "version: 1\na: "
    + "[" * (source.MAX_DEPTH + 1)
    + "]" * (source.MAX_DEPTH + 1)
    + "\n",
}


@pytest.mark.skipif(not source.LIBYAML, reason="the plain path reads libyaml's events")
@pytest.mark.parametrize("text", list(UNPLAIN.values()), ids=list(UNPLAIN))
def test_anything_unplain_takes_the_node_path(text: str) -> None:
    """What the plain path does not read the node path does, with its issues and positions."""
    assert source._plain_document(text) is source._UNPLAIN
    assert source.parse(text, "billing.yaml", positions=False).data == (
        source.parse(text, "billing.yaml", positions=True).data
    )


@pytest.mark.skipif(not source.LIBYAML, reason="the plain path reads libyaml's events")
def test_plain_path_scalars() -> None:
    """Floats keep their text, booleans, nulls and dates are built as the node path builds them."""
    text = 'version: 1\na: 19.990\nb: true\nc: ~\nd: 2024-01-02\ne: "1"\nf: 1_000\ng:\n1: x\n'
    plain = source._plain_document(text)
    assert plain == source.parse(text, "billing.yaml", positions=True).data
    assert plain["a"].text == "19.990"
    assert [type(plain[k]).__name__ for k in "bcdef"] == ["bool", "NoneType", "date", "str", "int"]
    assert plain["f"] == 1000 and plain["g"] is None and plain["1"] == "x"
