"""`billing-sync validate` and `schema` through the real command line (a subprocess each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_config_loader import expected_messages

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "fixtures" / "config" / "bad"
EXAMPLE = ROOT / "billing.yaml"


def run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "BILLING_SYNC_CONFIG"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "billing_sync", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


EXPECTED = expected_messages()


def test_example_is_valid() -> None:
    proc = run("validate", "-c", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{EXAMPLE}: valid (4 products, 7 prices, 2 customers, 2 subscriptions)\n"
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


@pytest.mark.parametrize("name", sorted(EXPECTED))
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
    assert doc["counts"] == {"products": 4, "prices": 7, "customers": 2, "subscriptions": 2}


def test_schema_is_json_schema_of_billing_yaml() -> None:
    proc = run("schema")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/")
    assert doc["type"] == "object"
    assert doc["additionalProperties"] is False
    assert set(doc["properties"]) == {"version", "products", "customers", "policies", "payments"}
    price = doc["$defs"]["Price"]
    assert price["required"] == ["currency"]
    assert "nickname" in price["properties"]
    product = doc["$defs"]["Product"]
    assert product["properties"]["images"]["maxItems"] == 8
