"""`billing-sync validate` and `schema` through the CLI's `main(argv)`, in-process.

The loader's messages for every bad fixture are pinned in tests/unit/test_config_loader.py (from
text and from a path); here a few fixtures pin what the CLI adds: exit code 1, nothing on stdout,
each message naming the file, the `N error(s)` summary line, and the `--format json` document.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from billing_sync.resources import KINDS
from tests.helpers import (
    BAD_CONFIGS,
    EXAMPLE,
    EXAMPLE_COUNTS,
    ROOT,
    CliResult,
    expected_messages,
    run_cli,
    validate_summary,
)

BAD = BAD_CONFIGS
EXPECTED = expected_messages()
# One error, the error whose message carries a hint, and six errors at once (plural summary).
CLI_FIXTURES = ["bad_currency.yaml", "unknown_field_hint.yaml", "several_errors.yaml"]


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(None, *args, cwd=cwd, env=env)


def test_example_is_valid() -> None:
    proc = run("validate", "-c", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    # Counted from the example by the registry (the emulator holds as many after an apply:
    # tests.helpers.converged); the wording of each kind is pinned by test_cli_init.py.
    assert proc.stdout == f"{EXAMPLE}: valid ({validate_summary(EXAMPLE_COUNTS)})\n"
    assert proc.stderr == ""


def test_default_path_is_cwd_billing_yaml() -> None:
    proc = run("validate")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("billing.yaml: valid")


def test_env_var_chooses_file() -> None:
    bad = BAD / "bad_currency.yaml"
    proc = run("validate", env={"BILLING_SYNC_CONFIG": str(bad)})
    assert proc.returncode == 1
    assert f"{bad}:7:19: products.pro.prices.pro-monthly.currency:" in proc.stderr
    # -c wins over the environment.
    assert (
        run("validate", "-c", str(EXAMPLE), env={"BILLING_SYNC_CONFIG": str(bad)}).returncode == 0
    )


def test_cli_fixtures_are_bad_fixtures() -> None:
    assert set(CLI_FIXTURES) <= set(EXPECTED)
    assert {len(EXPECTED[name]) == 1 for name in CLI_FIXTURES} == {True, False}


@pytest.mark.parametrize("name", CLI_FIXTURES)
def test_bad_fixture_exits_1_with_message(name: str) -> None:
    path = BAD / name
    proc = run("validate", "-c", str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    want = [line.replace("billing.yaml:", f"{path}:", 1) for line in EXPECTED[name]]
    n = len(want)
    want.append(f"{path}: {n} error{'s' if n != 1 else ''}")
    assert proc.stderr.splitlines() == want


def test_missing_file() -> None:
    proc = run("validate", "-c", "does-not-exist.yaml")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        "does-not-exist.yaml:1:1: cannot read file: No such file or directory\n"
    )


def test_json_format_invalid() -> None:
    path = BAD / "unknown_field_hint.yaml"
    proc = run("validate", "--format", "json", "-c", str(path))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc == {
        "format_version": 1,
        "valid": False,
        "file": str(path),
        "errors": [
            {
                "file": str(path),
                "line": 7,
                "column": 9,
                "path": "products.pro.prices.pro-monthly.nicknme",
                "message": "unknown field 'nicknme' (did you mean 'nickname'?)",
            }
        ],
    }


def test_json_format_valid() -> None:
    proc = run("validate", "--format", "json", "-c", str(EXAMPLE))
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["valid"] is True
    assert doc["errors"] == []
    assert list(doc["counts"]) == [kind.plural for kind in KINDS]
    assert doc["counts"] == EXAMPLE_COUNTS
    # A kind declared in a top-level section counts its entries there, read as plain YAML.
    sections = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for plural, n in doc["counts"].items():
        if plural in sections:
            assert n == len(sections[plural]), plural


def test_schema_is_json_schema_of_billing_yaml() -> None:
    proc = run("schema")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/")
    assert doc["type"] == "object"
    assert doc["additionalProperties"] is False
    assert set(doc["properties"]) == {
        "version",
        "meters",
        "products",
        "customers",
        "coupons",
        "promotion_codes",
        "tax_rates",
        "features",
        "policies",
        "ignore",
        "payments",
    }
    price = doc["$defs"]["Price"]
    assert price["required"] == ["currency"]
    assert "nickname" in price["properties"]
    product = doc["$defs"]["Product"]
    assert product["properties"]["images"]["maxItems"] == 8
