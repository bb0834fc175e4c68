"""Entitlement features and their attachments through the CLI (`main(argv)` in-process) against
the emulator over HTTP; the account is checked with the official stripe client."""

from __future__ import annotations

from pathlib import Path

import stripe

from tests.helpers import EmulatorHandle, duplicates, run_cli, write_config

CATALOG = """\
version: 1
features:
  sso: {name: SSO, metadata: {team: identity}}
  audit-log: {name: Audit log}
products:
  pro:
    name: Pro
    features: [sso, audit-log]
  basic:
    name: Basic
    features: [audit-log]
policies:
  max_destroy_percent: 100
"""


def apply_ok(emulator: EmulatorHandle, config: Path) -> str:
    res = run_cli(emulator, "apply", "-c", str(config), "--auto-approve")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def assert_converged(emulator: EmulatorHandle, config: Path) -> None:
    res = run_cli(emulator, "plan", "-c", str(config), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No changes" in res.stdout
    assert duplicates(emulator) == {}


def features(
    client: stripe.StripeClient, *, archived: bool = False
) -> dict[str, stripe.entitlements.Feature]:
    """lookup key -> feature, active ones (or archived ones)."""
    listed = client.v1.entitlements.features.list(params={"archived": archived, "limit": 100})
    return {f.lookup_key: f for f in listed.auto_paging_iter()}


def granted(client: stripe.StripeClient, product: str) -> list[str]:
    """The lookup keys of the features a product grants, sorted."""
    links = client.v1.products.features.list(product, params={"limit": 100})
    return sorted(pf.entitlement_feature.lookup_key for pf in links.auto_paging_iter())


def test_feature_lifecycle_converges_without_duplicates(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    config = write_config(tmp_path, CATALOG)

    apply_ok(emulator, config)
    assert_converged(emulator, config)
    live = features(client)
    assert sorted(live) == ["audit-log", "sso"]
    assert live["sso"].name == "SSO"
    assert live["sso"].metadata.to_dict() == {"team": "identity", "billing_sync_key": "sso"}
    assert granted(client, "pro") == ["audit-log", "sso"]
    assert granted(client, "basic") == ["audit-log"]

    # Update in place: the same feature, renamed, metadata merged.
    write_config(
        tmp_path,
        CATALOG.replace("{name: SSO, metadata: {team: identity}}", "{name: Single sign-on}"),
    )
    out = apply_ok(emulator, config)
    assert "~ feature sso (update" in out
    assert_converged(emulator, config)
    updated = features(client)["sso"]
    assert updated.id == live["sso"].id and updated.name == "Single sign-on"
    assert updated.metadata.to_dict() == {"billing_sync_key": "sso"}

    # Removed from billing.yaml: detached from every product, then archived.
    without = (
        CATALOG.replace("  audit-log: {name: Audit log}\n", "")
        .replace("[sso, audit-log]", "[sso]")
        .replace("    features: [audit-log]\n", "")
    )
    write_config(tmp_path, without)
    out = apply_ok(emulator, config)
    assert "- product_feature pro/audit-log (detach" in out
    assert "- product_feature basic/audit-log (detach" in out
    assert "- feature audit-log (archive" in out
    assert_converged(emulator, config)
    assert sorted(features(client)) == ["sso"]
    assert list(features(client, archived=True)) == ["audit-log"]
    assert granted(client, "pro") == ["sso"] and granted(client, "basic") == []

    # Re-added: Stripe archives features for good, so a new feature takes the lookup key back.
    write_config(tmp_path, CATALOG)
    res = run_cli(emulator, "plan", "-c", str(config))
    assert "stays archived" in res.stdout, res.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    readded = features(client)["audit-log"]
    assert readded.id != live["audit-log"].id and readded.active
    assert granted(client, "pro") == ["audit-log", "sso"]
    assert granted(client, "basic") == ["audit-log"]


def test_lookup_key_change_moves_products_to_a_new_feature(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    config = write_config(tmp_path, CATALOG)
    apply_ok(emulator, config)
    old = features(client)["sso"]
    write_config(tmp_path, CATALOG.replace("{name: SSO,", "{name: SSO, lookup_key: sso-v2,"))
    res = run_cli(emulator, "plan", "-c", str(config))
    assert "-/+ feature sso (replace" in res.stdout, res.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    new = features(client)["sso-v2"]
    assert new.id != old.id and new.metadata["billing_sync_key"] == "sso"
    assert "sso" not in features(client)
    assert client.v1.entitlements.features.retrieve(old.id).active is False
    assert granted(client, "pro") == ["audit-log", "sso-v2"]


def test_unmanaged_features_and_links_are_never_touched(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    config = write_config(tmp_path, CATALOG)
    apply_ok(emulator, config)
    theirs = client.v1.entitlements.features.create(params={"name": "Beta", "lookup_key": "beta"})
    link = client.v1.products.features.create("pro", params={"entitlement_feature": theirs.id})
    res = run_cli(emulator, "plan", "-c", str(config), "--detailed-exitcode")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Unmanaged (never changed): 1 features, 1 product_features" in res.stdout
    # Even when billing.yaml drops everything, the unmanaged feature and its link stay.
    write_config(
        tmp_path,
        "version: 1\nproducts:\n  pro: {name: Pro}\n  basic: {name: Basic}\npolicies: {max_destroy_percent: 100}\n",
    )
    apply_ok(emulator, config)
    assert features(client).keys() == {"beta"}
    assert [pf.id for pf in client.v1.products.features.list("pro").data] == [link.id]
    touched = [r for r in emulator.writes() if theirs.id in r["path"] or link.id in r["path"]]
    assert touched == []


def test_unmanaged_feature_with_the_declared_lookup_key_is_adopted(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    client.v1.products.create(params={"id": "pro", "name": "Pro"})
    client.v1.products.create(params={"id": "basic", "name": "Basic"})
    theirs = client.v1.entitlements.features.create(
        params={"name": "Sign-on", "lookup_key": "sso", "metadata": {"owner": "them"}}
    )
    client.v1.products.features.create("pro", params={"entitlement_feature": theirs.id})
    config = write_config(tmp_path, CATALOG)
    res = run_cli(emulator, "plan", "-c", str(config))
    assert "<= feature sso (adopt" in res.stdout, res.stdout
    assert "+ feature sso" not in res.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    adopted = client.v1.entitlements.features.retrieve(theirs.id)
    assert adopted.name == "SSO" and adopted.active
    # billing.yaml declares the whole metadata, as for every adopted object.
    assert adopted.metadata.to_dict() == {"team": "identity", "billing_sync_key": "sso"}
    assert features(client)["sso"].id == theirs.id
    # The link that already existed is kept, not duplicated.
    assert granted(client, "pro") == ["audit-log", "sso"]


def test_import_renders_features_and_links_and_plans_nothing(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    pro = client.v1.products.create(params={"name": "Pro Plan"})
    sso = client.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    odd = client.v1.entitlements.features.create(
        params={"name": "Data export", "lookup_key": "export.csv", "metadata": {"a": "b"}}
    )
    gone = client.v1.entitlements.features.create(params={"name": "Old", "lookup_key": "old"})
    client.v1.entitlements.features.update(gone.id, params={"active": False})
    for f in (sso, odd):
        client.v1.products.features.create(pro.id, params={"entitlement_feature": f.id})
    out = tmp_path / "imported.yaml"
    res = run_cli(emulator, "import", "--out", str(out))
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert "  pro-plan:  # " + pro.id in text
    assert "    features:\n      - data-export\n      - sso\n" in text
    assert f"  sso:  # {sso.id}\n    name: SSO\n" in text
    assert (
        f"  data-export:  # {odd.id}\n    name: Data export\n    lookup_key: export.csv\n" in text
    )
    assert "old" not in text.split("features:\n", 2)[-1]
    plan = run_cli(emulator, "plan", "-c", str(out))
    assert plan.returncode == 0, plan.stderr
    assert "+ " not in plan.stdout and "- " not in plan.stdout, plan.stdout
    apply_ok(emulator, out)
    assert_converged(emulator, out)
    assert features(client)["sso"].id == sso.id
    assert granted(client, pro.id) == ["export.csv", "sso"]


def test_a_link_detached_by_hand_is_drift_and_reattached(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    client = emulator.client()
    config = write_config(tmp_path, CATALOG)
    apply_ok(emulator, config)
    link = next(
        pf
        for pf in client.v1.products.features.list("pro").data
        if pf.entitlement_feature.lookup_key == "sso"
    )
    client.v1.products.features.delete("pro", link.id)
    res = run_cli(emulator, "drift", "-c", str(config))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "+ product_feature pro/sso (create)" in res.stdout
    apply_ok(emulator, config)
    assert_converged(emulator, config)
    assert granted(client, "pro") == ["audit-log", "sso"]
    ids = run_cli(emulator, "ids")
    assert '"pro/sso": "prodft_' in ids.stdout and '"sso": "feat_test_' in ids.stdout


def test_a_detach_whose_answer_is_lost_is_done_on_its_retry(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Stripe ignores idempotency keys on DELETE: the retry of a detach that went through
    finds the link gone (404), which is what the detach was for."""
    client = emulator.client()
    config = write_config(tmp_path, CATALOG)
    apply_ok(emulator, config)
    write_config(tmp_path, CATALOG.replace("    features: [audit-log]\n", ""))
    before = len(emulator.requests())
    run_cli(emulator, "plan", "-c", str(config))
    reads = len(emulator.requests()) - before
    # Counted from now: plan reads, the lock, the same reads under it, then the detach.
    detach_at = reads + 1 + reads + 1
    emulator.configure(fail_nth={str(detach_at): "lost_response"})
    out = apply_ok(emulator, config)
    assert "Apply complete: 1 done, 0 failed" in out
    deletes = [
        r for r in emulator.requests() if r["method"] == "DELETE" and "features" in r["path"]
    ]
    assert [r["status"] for r in deletes] == [500, 404]  # applied, answer lost; the retry
    assert_converged(emulator, config)
    assert granted(client, "basic") == []
