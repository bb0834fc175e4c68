"""`billing-sync init` through the CLI's `main(argv)`: a commented starter that validates, never
written over an existing file without --force."""

from __future__ import annotations

import re
from pathlib import Path

from billing_sync.config.loader import load_text
from billing_sync.config.starter import STARTER
from billing_sync.resources import KINDS
from tests.helpers import EmulatorHandle, run_cli, validate_summary
from tests.integration.test_plan_apply import apply_ok, assert_no_changes


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


def uncommented(starter: str) -> str:
    """The starter with every commented example made live: the top-level blocks (`#  key:`
    under `section: {}`) and the commented fields inside a mapping (`# key: ...`). Prose
    comments (a capitalised sentence, the header's command list) stay comments."""
    head, body = starter.split("version: 1\n")
    body = re.sub(r"^(\w+): \{\}\n(?=#  )", r"\1:\n", body, flags=re.M)
    body = re.sub(r"^#  ", "  ", body, flags=re.M)
    body = re.sub(r"^(\s+)# (\s*[\w-]+:)", r"\1\2", body, flags=re.M)
    return head + "version: 1\n" + body


def test_the_commented_examples_validate_once_uncommented(tmp_path: Path) -> None:
    text = uncommented(STARTER)
    # Every kind billing.yaml declares has an example, and each example was made live.
    assert "#  " not in text.split("version: 1\n")[1]
    (tmp_path / "billing.yaml").write_text(text, encoding="utf-8")
    check = run_cli(None, "validate", cwd=tmp_path)
    assert check.returncode == 0, (check.stderr, text)
    counts = starter_counts()
    assert all(counts.values()), counts  # an example of every kind of the registry
    assert check.stdout == f"billing.yaml: valid ({validate_summary(counts)})\n"


def starter_counts() -> dict[str, int]:
    """The uncommented starter's objects per kind (the registry's plurals)."""
    config = load_text(uncommented(STARTER))
    return {kind.plural: len(kind.desired(config)) for kind in KINDS}


def test_the_uncommented_starter_applies_and_converges(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    # The examples are not only valid but what Stripe accepts: one apply makes every object
    # (the subscription with its promotion code and tax rate), and the next plan is empty.
    config = tmp_path / "billing.yaml"
    config.write_text(uncommented(STARTER), encoding="utf-8")
    out = apply_ok(emulator, config)
    # One create per declared object, and the product's default price.
    assert f"Plan: {sum(starter_counts().values())} to create, 0 to adopt, 1 to update," in out
    # 5 seats at 19.00 USD, 20% off with the launch code: the discount example is live too.
    assert "0.00 USD -> 76.00 USD/month" in out
    assert_no_changes(emulator, config)


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
