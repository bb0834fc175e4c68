"""Coupons, promotion codes, tax rates and subscription discounts through the CLI against the
emulator: create, update in place, replace, remove, re-add, each converging to an empty plan
with no duplicates; state checked with the official stripe client; unmanaged objects untouched;
adoption of a declared coupon id or a matching tax rate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import stripe

from tests.helpers import EmulatorHandle, run_cli, write_config
from tests.integration.test_plan_apply import apply_ok, assert_no_changes

BASE = """\
version: 1
products:
  pro:
    name: Pro
    prices:
      pro-monthly: {amount: "29.00", currency: usd, recurring: {interval: month}}
coupons:
  launch:
    name: Launch
    percent_off: 20
    duration: repeating
    duration_in_months: 3
promotion_codes:
  launch-code:
    coupon: launch
    code: LAUNCH20
    max_redemptions: 100
tax_rates:
  vat:
    display_name: VAT
    percentage: 19
    inclusive: false
    country: DE
customers:
  acme:
    email: billing@acme.example
    subscriptions:
      main:
        collection_method: send_invoice
        days_until_due: 30
        items: [{price: pro-monthly, quantity: 1}]
        discounts: [{promotion_code: launch-code}]
        default_tax_rates: [vat]
policies:
  max_destroy_percent: 100
"""


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def plan_text(emulator: EmulatorHandle, cfg: Path) -> str:
    res = run_cli(emulator, "plan", "-c", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def managed(items: list[Any]) -> list[Any]:
    return [o for o in items if o.metadata and o.metadata.to_dict().get("billing_sync_key")]


def account(c: stripe.StripeClient) -> dict[str, list[Any]]:
    return {
        "coupons": list(c.v1.coupons.list(params={"limit": 100}).auto_paging_iter()),
        "codes": list(c.v1.promotion_codes.list(params={"limit": 100}).auto_paging_iter()),
        "rates": list(c.v1.tax_rates.list(params={"limit": 100}).auto_paging_iter()),
    }


def no_duplicates(c: stripe.StripeClient) -> None:
    objs = account(c)
    for name in ("codes", "rates"):
        live = Counter(o.metadata["billing_sync_key"] for o in managed(objs[name]) if o.active)
        assert all(n == 1 for n in live.values()), (name, live)
    active_codes = Counter(o.code.upper() for o in objs["codes"] if o.active)
    assert all(n == 1 for n in active_codes.values()), active_codes


def the_subscription(c: stripe.StripeClient) -> stripe.Subscription:
    subs = c.v1.subscriptions.list(params={"status": "all", "expand": ["data.discounts"]}).data
    assert len(subs) == 1
    return subs[0]


def discounts_of(sub: stripe.Subscription) -> list[tuple[str, str | None, str]]:
    out = []
    for d in sub.discounts:
        assert isinstance(d, stripe.Discount)
        promo = d.promotion_code
        coupon = d.source.coupon
        out.append(
            (
                d.id,
                promo if isinstance(promo, str) or promo is None else promo.id,
                coupon if isinstance(coupon, str) else coupon.id if coupon else "",
            )
        )
    return out


def test_lifecycle_create_update_replace_remove_readd(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    c = emulator.client()
    cfg = write_config(tmp_path, BASE)

    # -- create: money words in the plan, MRR net of the recurring discount --------------------
    out = plan_text(emulator, cfg)
    for line in (
        "+ coupon launch (create)  20% off for 3 months",
        "+ promotion_code launch-code (create)  code LAUNCH20 for coupon launch (100 redemptions)",
        "+ tax_rate vat (create)  19% VAT DE (exclusive)",
        "0.00 USD -> 23.20 USD/month",
    ):
        assert line in out, (line, out)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    coupon = c.v1.coupons.retrieve("launch")
    assert (coupon.percent_off, coupon.duration_in_months, coupon.name) == (20.0, 3, "Launch")
    assert coupon.metadata and coupon.metadata["billing_sync_key"] == "launch"
    (code,) = account(c)["codes"]
    (rate,) = account(c)["rates"]
    assert (code.code, code.active, code.promotion.coupon) == ("LAUNCH20", True, "launch")
    assert (rate.percentage, rate.inclusive, rate.country) == (19.0, False, "DE")
    sub = the_subscription(c)
    ((discount_id, promo, coupon_id),) = discounts_of(sub)
    assert (promo, coupon_id) == (code.id, "launch")
    assert [t.id for t in sub.default_tax_rates or []] == [rate.id]

    # -- update in place: same objects ---------------------------------------------------------
    text = edit(BASE, "name: Launch\n", "name: Launch week\n    metadata: {campaign: hn}\n")
    text = edit(text, "display_name: VAT", "display_name: MwSt")
    text = edit(text, "max_redemptions: 100\n", "max_redemptions: 100\n    metadata: {ch: blog}\n")
    cfg = write_config(tmp_path, text)
    out = plan_text(emulator, cfg)
    assert "~ coupon launch (update launch)" in out
    assert f"~ tax_rate vat (update {rate.id})" in out
    assert f"~ promotion_code launch-code (update {code.id})" in out
    assert "Plan: 0 to create, 0 to adopt, 3 to update" in out
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    assert c.v1.coupons.retrieve("launch").name == "Launch week"
    assert c.v1.tax_rates.retrieve(rate.id).display_name == "MwSt"
    assert discounts_of(the_subscription(c))[0][0] == discount_id

    # -- replace: fixed fields -----------------------------------------------------------------
    text = edit(text, "percent_off: 20", "percent_off: 25")
    text = edit(text, "percentage: 19", "percentage: 7")
    text = edit(text, "max_redemptions: 100", "max_redemptions: 50")
    cfg = write_config(tmp_path, text)
    out = plan_text(emulator, cfg)
    for line in (
        "- coupon launch (delete launch)",
        "-/+ coupon launch (replace launch)  20% off for 3 months -> 25% off for 3 months",
        f"-/+ tax_rate vat (replace {rate.id})  19% MwSt DE (exclusive) -> 7% MwSt DE (exclusive)",
        f"- tax_rate vat (archive the replaced tax_rate {rate.id})",
        f"-/+ promotion_code launch-code (replace {code.id})",
        f"- promotion_code launch-code (archive the replaced promotion_code {code.id})",
        "default_tax_rates",
    ):
        assert line in out, (line, out)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    no_duplicates(c)
    assert c.v1.coupons.retrieve("launch").percent_off == 25.0
    objs = account(c)
    new_rate = next(r for r in objs["rates"] if r.active)
    new_code = next(p for p in objs["codes"] if p.active)
    assert (new_rate.percentage, new_code.max_redemptions) == (7.0, 50)
    assert not c.v1.tax_rates.retrieve(rate.id).active
    assert not c.v1.promotion_codes.retrieve(code.id).active
    sub = the_subscription(c)
    # The tax rate moves; the discount already applied is kept (Stripe keeps its terms).
    assert [t.id for t in sub.default_tax_rates or []] == [new_rate.id]
    assert [d[0] for d in discounts_of(sub)] == [discount_id]

    # -- remove: coupon deleted, code deactivated, rate archived, references dropped -----------
    removed = text.split("coupons:\n")[0] + text[text.index("customers:\n") :]
    removed = edit(removed, "        discounts: [{promotion_code: launch-code}]\n", "")
    removed = edit(removed, "        default_tax_rates: [vat]\n", "")
    cfg = write_config(tmp_path, removed)
    out = plan_text(emulator, cfg)
    for line in (
        "- coupon launch (delete launch)",
        f"- promotion_code launch-code (archive {new_code.id})",
        f"- tax_rate vat (archive {new_rate.id})",
    ):
        assert line in out, (line, out)
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    objs = account(c)
    assert objs["coupons"] == []
    assert not any(o.active for o in objs["codes"] + objs["rates"])
    sub = the_subscription(c)
    assert sub.discounts == [] and sub.default_tax_rates == []

    # -- re-add: the coupon is created again, the archived rate reactivated; the archived code
    # belonged to the deleted coupon, so a new code is made for the new one ------------------
    cfg = write_config(tmp_path, text)
    out = plan_text(emulator, cfg)
    assert "+ coupon launch (create)" in out
    assert "+ promotion_code launch-code (create)" in out, out
    assert f"+ tax_rate vat (reactivate {new_rate.id})" in out
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    no_duplicates(c)
    objs = account(c)
    assert len(objs["codes"]) == 3 and len(objs["rates"]) == 2
    readded = next(p for p in objs["codes"] if p.active)
    assert readded.id not in (code.id, new_code.id)
    sub = the_subscription(c)
    assert [t.id for t in sub.default_tax_rates or []] == [new_rate.id]
    assert [d[1] for d in discounts_of(sub)] == [readded.id]

    # -- the coupon alone replaced: its code is made again for the new coupon -----------------
    text = edit(text, "percent_off: 25", "percent_off: 30")
    cfg = write_config(tmp_path, text)
    out = plan_text(emulator, cfg)
    assert f"-/+ promotion_code launch-code (replace {readded.id})" in out
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    no_duplicates(c)


HAND = """\
version: 1
coupons:
  TEAM10: {percent_off: 10, duration: forever}
tax_rates:
  sales-tax:
    display_name: Sales tax
    percentage: 5
    inclusive: false
    country: US
    state: NY
"""


def test_unmanaged_are_untouched_and_matching_ones_adopted(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    c = emulator.client()
    c.v1.coupons.create(params={"id": "TEAM10", "percent_off": 10, "duration": "forever"})
    other = c.v1.coupons.create(params={"id": "OTHER", "amount_off": 300, "currency": "usd"})
    c.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": "OTHER"}, "code": "HANDMADE"}
    )
    rate = c.v1.tax_rates.create(
        params={
            "display_name": "sales tax",
            "percentage": 5,
            "inclusive": False,
            "country": "US",
            "state": "NY",
        }
    )
    c.v1.tax_rates.create(params={"display_name": "GST", "percentage": 10, "inclusive": True})
    cfg = write_config(tmp_path, HAND)
    out = plan_text(emulator, cfg)
    assert "<= coupon TEAM10 (adopt TEAM10)" in out
    assert f"<= tax_rate sales-tax (adopt {rate.id})" in out
    assert 'display_name: "sales tax" -> "Sales tax"' in out
    assert "Plan: 0 to create, 2 to adopt" in out
    before = len(emulator.requests())
    apply_ok(emulator, cfg)
    assert_no_changes(emulator, cfg)
    writes = [r for r in emulator.requests()[before:] if r["method"] in ("POST", "DELETE")]
    touched = {r["path"] for r in writes if not r["path"].startswith("/v1/products")}
    assert touched == {"/v1/coupons/TEAM10", f"/v1/tax_rates/{rate.id}"}, touched
    assert c.v1.coupons.retrieve("OTHER").metadata == other.metadata
    adopted = c.v1.tax_rates.retrieve(rate.id).metadata
    assert adopted is not None and adopted["billing_sync_key"] == "sales-tax"
    assert len(account(c)["rates"]) == 2 and len(account(c)["coupons"]) == 2


def test_a_declared_coupon_id_held_with_other_terms_is_a_conflict(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    c = emulator.client()
    c.v1.coupons.create(params={"id": "TEAM10", "percent_off": 15, "duration": "forever"})
    before = len(emulator.requests())
    cfg = write_config(tmp_path, HAND)
    res = run_cli(emulator, "plan", "-c", str(cfg))
    text = res.stdout + res.stderr
    assert "coupon TEAM10: the coupon id 'TEAM10' belongs to a coupon" in text, text
    assert "15% off forever" in text
    res = run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve")
    assert res.returncode != 0
    assert c.v1.coupons.retrieve("TEAM10").percent_off == 15.0
    assert not any(
        r["method"] in ("POST", "DELETE") and "coupon" in r["path"]
        for r in emulator.requests()[before:]
    )


def test_two_matching_unmanaged_tax_rates_are_a_conflict(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    c = emulator.client()
    params: Any = {
        "display_name": "Sales tax",
        "percentage": 5,
        "inclusive": False,
        "country": "US",
        "state": "NY",
    }
    first = c.v1.tax_rates.create(params=params)
    second = c.v1.tax_rates.create(params=params)
    cfg = write_config(
        tmp_path, HAND.split("coupons:")[0] + "tax_rates:" + HAND.split("tax_rates:")[1]
    )
    res = run_cli(emulator, "plan", "-c", str(cfg))
    text = res.stdout + res.stderr
    assert "tax_rate sales-tax: 2 tax rates billing-sync does not manage match it" in text, text
    assert first.id in text and second.id in text
    before = len(emulator.requests())
    assert run_cli(emulator, "apply", "-c", str(cfg), "--auto-approve").returncode != 0
    assert not [r for r in emulator.requests()[before:] if r["method"] in ("POST", "DELETE")]
    assert len(account(c)["rates"]) == 2


ONLY_COUPON = """\
version: 1
coupons:
  launch: {name: Launch, percent_off: 20, duration: once}
policies:
  max_destroy_percent: 100
"""


def test_a_coupon_delete_whose_answer_is_lost_lets_its_replacement_be_created(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    """Stripe ignores idempotency keys on DELETE: the retry of a coupon delete that went
    through finds nothing (404). The delete's purpose holds, so the new terms are created under
    the coupon's id in the same run instead of being skipped."""
    c = emulator.client()
    cfg = write_config(tmp_path, ONLY_COUPON)
    apply_ok(emulator, cfg)
    write_config(tmp_path, edit(ONLY_COUPON, "percent_off: 20", "percent_off: 25"))
    before = len(emulator.requests())
    run_cli(emulator, "plan", "-c", str(cfg))
    reads = len(emulator.requests()) - before
    # Counted from now: plan reads, the lock, the same reads under it, then the delete.
    delete_at = reads + 1 + reads + 1
    emulator.configure(fail_nth={str(delete_at): "lost_response"})
    out = apply_ok(emulator, cfg)
    assert "Apply complete: 2 done, 0 failed, 0 skipped" in out, out
    deletes = [r for r in emulator.requests() if r["method"] == "DELETE" and "coupons" in r["path"]]
    assert [r["status"] for r in deletes] == [500, 404]  # applied, answer lost; the retry
    assert c.v1.coupons.retrieve("launch").percent_off == 25.0
    assert_no_changes(emulator, cfg)
