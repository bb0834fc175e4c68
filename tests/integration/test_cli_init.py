"""`billing-sync init` through the CLI's `main(argv)`: a commented starter that validates, never
written over an existing file without --force."""

from __future__ import annotations

import re
from pathlib import Path

from billing_sync.config.starter import STARTER
from tests.helpers import run_cli, validate_summary


def test_init_writes_a_commented_starter_that_validates(tmp_path: Path) -> None:
    res = run_cli(None, "init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    written = (tmp_path / "billing.yaml").read_text(encoding="utf-8")
    assert written == STARTER
    assert sum(line.lstrip().startswith("#") for line in written.splitlines()) >= 15
    check = run_cli(None, "validate", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert (
        check.stdout == f"billing.yaml: valid ({validate_summary({'products': 1, 'prices': 2})})\n"
    )


def test_the_commented_examples_validate_once_uncommented(tmp_path: Path) -> None:
    head, block = STARTER.split("customers: {}\n")
    block = re.sub(r"^#  ", "  ", block, flags=re.M)  # the customer block
    text = head + "customers:\n" + block
    text = text.replace("      # setup-fee:", "      setup-fee:")
    (tmp_path / "billing.yaml").write_text(text, encoding="utf-8")
    check = run_cli(None, "validate", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    counts = {"products": 1, "prices": 3, "customers": 1, "subscriptions": 1}
    assert f"({validate_summary(counts)})" in check.stdout


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    mine = tmp_path / "billing.yaml"
    mine.write_text("version: 1\n# my catalog\n", encoding="utf-8")
    res = run_cli(None, "init", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr == (
        "error: billing.yaml already exists: add --force to replace it, or -c another file\n"
    )
    assert mine.read_text(encoding="utf-8") == "version: 1\n# my catalog\n"
    forced = run_cli(None, "init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text(encoding="utf-8") == STARTER


def test_init_honours_c_and_the_environment(tmp_path: Path) -> None:
    res = run_cli(None, "init", "-c", "conf/stripe.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "conf" / "stripe.yaml").read_text(encoding="utf-8") == STARTER
    env = run_cli(None, "init", cwd=tmp_path, env={"BILLING_SYNC_CONFIG": "from-env.yaml"})
    assert env.returncode == 0, env.stderr
    assert (tmp_path / "from-env.yaml").exists()
    assert not (tmp_path / "billing.yaml").exists()
