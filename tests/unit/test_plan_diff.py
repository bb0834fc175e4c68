"""Tests for the planner and the resource kinds' rules, from a desired config and an existing state."""

from __future__ import annotations

from dataclasses import replace

from billing_sync.plan.render import render_markdown, render_text
from billing_sync.resources import CUSTOMER, PRICE, PRODUCT, SUBSCRIPTION, Existing, Snapshot
from tests.unit.plan_helpers import BASE, applied, config, find, op_ids, plan_for, with_snapshot


def test_applied_config_plans_no_changes() -> None:
    cfg = config()
    plan = plan_for(cfg, applied(cfg))
    assert op_ids(plan) == []
    assert "No changes" in render_text(plan)


def test_fresh_account_creates_everything_in_dependency_order() -> None:
    plan = plan_for(config(), Existing())
    assert op_ids(plan) == [
        "product.create:pro",
        "product.create:seats",
        "price.create:pro-monthly",
        "price.create:pro-yearly",
        "price.create:seats-graduated",
        "customer.create:acme",
        "subscription.create:acme/main",
        "product.update.default_price:pro",
    ]
    price = find(plan, "price.create:pro-monthly")
    assert plan.depends_on[price.id] == ("product.create:pro",)
    assert price.request.params["product"] == "pro"
    assert price.request.params["lookup_key"] == "pro-monthly"
    assert price.request.params["metadata"] == {"billing_sync_key": "pro-monthly"}
    assert price.summary == "29.00 USD/month"
    default = find(plan, "product.update.default_price:pro")
    assert default.request.params == {"default_price": "${price:pro-monthly}"}
    assert "price.create:pro-monthly" in plan.depends_on[default.id]
    sub = find(plan, "subscription.create:acme/main")
    assert sub.request.params["customer"] == "${customer:acme}"
    assert sub.request.params["items"] == [
        {"price": "${price:pro-monthly}", "quantity": 2},
        {"price": "${price:seats-graduated}", "quantity": 12},
    ]
    assert sub.request.params["days_until_due"] == 30
    assert set(plan.depends_on[sub.id]) == {
        "customer.create:acme",
        "price.create:pro-monthly",
        "price.create:seats-graduated",
    }
    assert plan.counts()["create"] == 7
    assert not plan.destructive_changes


def test_tiered_price_params_and_mrr() -> None:
    plan = plan_for(config(), Existing())
    tiered = find(plan, "price.create:seats-graduated")
    assert tiered.request.params["billing_scheme"] == "tiered"
    assert tiered.request.params["tiers"] == [
        {"up_to": 10, "unit_amount": 1000},
        {"up_to": "inf", "unit_amount": 800},
    ]
    assert "unit_amount" not in tiered.request.params
    # 2 x 29.00 + (10 x 10.00 + 2 x 8.00) = 174.00 USD a month, from nothing.
    assert plan.mrr == {"usd": (0, 17400)}


EXTRAS = """  extras:
    name: Extras
    prices:
      extra-yearly: {unit_amount: 2900, currency: usd, recurring: {interval: year}}
customers:
"""
SHARED = (
    BASE.replace("customers:\n", EXTRAS)
    + """
  beta:
    email: billing@beta.example
    subscriptions:
      main:
        items: [{price: pro-monthly, quantity: 5}, {price: extra-yearly, quantity: 5}]
  gamma:
    email: billing@gamma.example
    subscriptions:
      main:
        items: [{price: pro-monthly, quantity: 2}, {price: seats-graduated, quantity: 3}]
"""
)


def test_mrr_counts_each_subscriptions_own_quantities_on_shared_prices() -> None:
    """Subscriptions share prices at the same and at other quantities, on both sides, and two
    prices share an amount and a quantity but not an interval."""
    after = config(
        SHARED.replace("{price: pro-monthly, quantity: 5}", "{price: pro-monthly, quantity: 7}")
    )
    plan = plan_for(after, applied(config(SHARED)))
    assert op_ids(plan) == ["subscription.update:beta/main"]
    # acme 2 x 29.00 + (10 x 10.00 + 2 x 8.00) = 174.00; beta 5 x 29.00 + 5 x 29.00 / 12 =
    # 157.0833; gamma 2 x 29.00 + 3 x 10.00 = 88.00. After: beta 7 x 29.00 + 12.0833 = 215.0833.
    assert plan.mrr == {"usd": (41908, 47708)}


def test_product_field_change_is_an_update_of_that_field_only() -> None:
    before = config()
    after = config(BASE.replace("name: Pro\n", "name: Pro\n    description: Now with SSO\n"))
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["product.update:pro"]
    op = find(plan, "product.update:pro")
    assert op.request.params == {"description": "Now with SSO"}
    assert [(c.path, c.old, c.new) for c in op.fields] == [("description", None, "Now with SSO")]


def test_price_mutable_change_updates_in_place() -> None:
    before = config()
    after = config(
        BASE.replace("pro-yearly: {unit_amount", "pro-yearly: {nickname: Yearly, unit_amount")
    )
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["price.update:pro-yearly"]
    assert find(plan, "price.update:pro-yearly").request.params == {"nickname": "Yearly"}


def test_metadata_removal_unsets_the_key() -> None:
    with_meta = config(
        BASE.replace("name: Acme\n", "name: Acme\n    metadata: {crm: A1, tier: gold}\n")
    )
    without = config(BASE.replace("name: Acme\n", "name: Acme\n    metadata: {crm: A1}\n"))
    plan = plan_for(without, applied(with_meta))
    op = find(plan, "customer.update:acme")
    assert op.request.params == {"metadata": {"tier": ""}}


def test_price_amount_change_is_a_replace_that_moves_declared_subscriptions() -> None:
    before = config()
    existing = applied(before, unmanaged_subscriptions={"pro-monthly": 3})
    after = config(
        BASE.replace("pro-monthly: {unit_amount: 2900", "pro-monthly: {unit_amount: 3500")
    )
    plan = plan_for(after, existing)
    assert op_ids(plan) == [
        "price.replace:pro-monthly",
        "subscription.update:acme/main",
        "product.update.default_price:pro",
        "price.archive.old:pro-monthly",
    ]
    replace = find(plan, "price.replace:pro-monthly")
    assert replace.request.params["transfer_lookup_key"] is True
    assert replace.request.params["unit_amount"] == 3500
    assert replace.summary == "29.00 USD/month -> 35.00 USD/month"
    assert replace.notes == (
        "1 declared subscription moves to the new price; "
        "3 other subscriptions stay on the old price",
    )
    sub = find(plan, "subscription.update:acme/main")
    assert sub.request.params["items"] == [
        {"id": "si_acme/main_0", "price": "${price:pro-monthly}", "quantity": 2}
    ]
    assert sub.request.params["proration_behavior"] == "create_prorations"
    archive = find(plan, "price.archive.old:pro-monthly")
    assert archive.request.params == {"active": False}
    assert set(plan.depends_on[archive.id]) == {
        "price.replace:pro-monthly",
        "product.update.default_price:pro",
    }
    assert not archive.destructive
    assert plan.grandfathered == {"pro-monthly": 3}
    text = render_text(plan)
    assert "-/+ price pro-monthly" in text
    assert "3 other subscriptions stay on the old price" in text
    assert plan.mrr == {"usd": (17400, 18600)}


def test_a_replaced_price_no_subscription_uses_says_nothing_about_subscriptions() -> None:
    before = config()
    plan = plan_for(
        config(
            BASE.replace("pro-yearly: {unit_amount: 29000,", "pro-yearly: {unit_amount: 31000,")
        ),
        applied(before),
    )
    replace = find(plan, "price.replace:pro-yearly")
    assert replace.notes == ()
    text = render_text(plan)
    assert "price pro-yearly (replace" in text
    assert "move" not in text and "stay" not in text
    assert plan.grandfathered == {}


def test_reverting_a_price_reactivates_the_archived_one() -> None:
    before = config()
    existing = applied(before)
    prices = dict(existing.of(PRICE).managed)
    old = replace(prices["pro-yearly"], active=False, lookup_key=None)
    newer = replace(prices["pro-yearly"], unit_amount=31000, id="price_newer")
    prices["pro-yearly"] = newer
    existing = with_snapshot(existing, PRICE, managed=prices, others=(old,))
    plan = plan_for(before, existing)
    assert op_ids(plan) == ["price.reactivate:pro-yearly", "price.archive.old:pro-yearly"]
    react = find(plan, "price.reactivate:pro-yearly")
    assert react.request.path == "/v1/prices/price_pro-yearly"
    assert react.request.params == {
        "active": True,
        "lookup_key": "pro-yearly",
        "transfer_lookup_key": True,
    }
    assert find(plan, "price.archive.old:pro-yearly").request.path == "/v1/prices/price_newer"


def test_removed_price_is_archived_and_counts_as_destructive() -> None:
    before = config()
    after = config(
        BASE.replace(
            "      pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}\n",
            "",
        )
    )
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["price.archive:pro-yearly"]
    op = plan.changes[0]
    assert op.destructive and op.request.params == {"active": False}
    # 1 of 7 managed objects: 14% is under the default 30%.
    assert plan.unsafe_reasons == []


def test_removed_product_unsets_default_price_before_archiving_prices() -> None:
    before = config()
    minimal = config(
        """
        version: 1
        products:
          seats:
            name: Seats
            prices:
              seats-graduated:
                currency: usd
                recurring: {interval: month}
                tiers_mode: graduated
                tiers: [{up_to: 10, unit_amount: 1000}, {up_to: inf, unit_amount: 800}]
        policies: {min_objects_for_thresholds: 0}
        """
    )
    plan = plan_for(minimal, applied(before))
    archive_product = find(plan, "product.archive:pro")
    assert archive_product.request.params == {"active": False, "default_price": ""}
    archive_price = find(plan, "price.archive:pro-monthly")
    assert "product.archive:pro" in plan.depends_on[archive_price.id]
    assert find(plan, "subscription.cancel:acme/main").request.params == {
        "cancel_at_period_end": True
    }
    # Products, prices and the subscription: 5 destructive of 7 managed objects.
    assert plan.unsafe_reasons and "max_destroy_percent" in plan.unsafe_reasons[0]
    assert any("customer acme is no longer declared" in w for w in plan.warnings)


def test_subscription_quantity_change_uses_policy_proration() -> None:
    before = config()
    after = config(
        BASE.replace("quantity: 12}", "quantity: 15}")
        + "policies: {proration_behavior: always_invoice}\n"
    )
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["subscription.update:acme/main"]
    op = plan.changes[0]
    assert op.request.params == {
        "items": [{"id": "si_acme/main_1", "quantity": 15}],
        "proration_behavior": "always_invoice",
    }
    assert [(c.path, c.old, c.new) for c in op.fields] == [
        ("items.seats-graduated.quantity", 12, 15)
    ]


def test_an_items_metadata_change_updates_that_item_only() -> None:
    """Each part of an item is compared, metadata included: the no-change path of a
    subscription must not skip it."""
    before = config()
    after = config(
        BASE.replace(
            "{price: seats-graduated, quantity: 12}",
            "{price: seats-graduated, quantity: 12, metadata: {seat_pool: eu}}",
        )
    )
    plan = plan_for(after, applied(before))
    assert op_ids(plan) == ["subscription.update:acme/main"]
    op = plan.changes[0]
    assert op.request.params["items"] == [{"id": "si_acme/main_1", "metadata": {"seat_pool": "eu"}}]
    assert [(c.path, c.old, c.new) for c in op.fields] == [
        ("items.seats-graduated.metadata.seat_pool", None, "eu")
    ]
    assert plan_for(after, applied(after)).changes == ()


def test_subscription_item_added_and_removed() -> None:
    before = config()
    after = config(
        BASE.replace("{price: seats-graduated, quantity: 12}", "{price: pro-yearly, quantity: 1}")
    )
    plan = plan_for(after, applied(before))
    op = find(plan, "subscription.update:acme/main")
    # The seats item switches to the yearly price in place (same Stripe item).
    assert op.request.params["items"] == [
        {"id": "si_acme/main_1", "price": "price_pro-yearly", "quantity": 1}
    ]


def test_cancel_now_policy_deletes_the_subscription() -> None:
    before = config()
    after = config(
        BASE.split("customers:")[0]
        + "customers:\n  acme:\n    email: billing@acme.example\n    name: Acme\npolicies: {subscription_removal: cancel_now, max_destroy_percent: 100}\n"
    )
    plan = plan_for(after, applied(before))
    op = find(plan, "subscription.cancel:acme/main")
    assert op.request.method == "delete"
    assert op.request.path == "/v1/subscriptions/sub_acme_main"
    assert plan.unsafe_reasons == []


def test_protected_subscription_removal_is_unsafe_whatever_the_threshold() -> None:
    protected = config(
        BASE.replace("days_until_due: 30\n", "days_until_due: 30\n        protect: true\n")
    )
    after = config(
        BASE.split("customers:")[0]
        + "customers:\n  acme:\n    email: billing@acme.example\n    name: Acme\npolicies: {max_destroy_percent: 100}\n"
    )
    plan = plan_for(after, applied(protected))
    assert plan.unsafe_reasons == ["subscription acme/main is protected (protect: true)"]


def test_declared_subscription_that_was_canceled_is_reported_not_recreated() -> None:
    cfg = config()
    existing = applied(cfg)
    subs = dict(existing.of(SUBSCRIPTION).managed)
    sub = replace(subs.pop("acme/main"), status="canceled")
    existing = with_snapshot(existing, SUBSCRIPTION, managed=subs, others=(sub,))
    plan = plan_for(cfg, existing)
    assert op_ids(plan) == []
    # Drift (drift exits 2), never a silent re-creation that would bill the customer again.
    assert plan.unreachable == (
        "subscription acme/main is canceled in Stripe (sub_acme_main) and is not re-created: "
        "remove it from billing.yaml, or give it a new key to subscribe the customer again",
    )
    assert not plan.in_sync


def test_unmanaged_objects_matching_the_declaration_are_adopted_not_duplicated() -> None:
    """Same product id, same lookup key (and fixed fields), same customer email: adopt."""
    account = applied(config())
    product = replace(account.of(PRODUCT).managed["pro"], metadata={"other": "x"})
    price = replace(account.of(PRICE).managed["seats-graduated"], id="price_x", key="price_x")
    customer = replace(account.of(CUSTOMER).managed["acme"], id="cus_x", key="cus_x", name=None)
    existing = Existing(
        {
            PRODUCT.name: Snapshot(unmanaged=(product,)),
            PRICE.name: Snapshot(unmanaged=(price,)),
            CUSTOMER.name: Snapshot(unmanaged=(customer,)),
        }
    )
    plan = plan_for(config(), existing)
    assert plan.conflicts == ()
    assert "product.adopt:pro" in op_ids(plan) and "product.create:pro" not in op_ids(plan)
    adopt_product = find(plan, "product.adopt:pro")
    assert adopt_product.request.path == "/v1/products/pro"
    assert adopt_product.request.params["metadata"] == {"other": "", "billing_sync_key": "pro"}
    adopt_price = find(plan, "price.adopt:seats-graduated")
    assert adopt_price.request.path == "/v1/prices/price_x"
    assert adopt_price.request.params == {"metadata": {"billing_sync_key": "seats-graduated"}}
    adopt_customer = find(plan, "customer.adopt:acme")
    assert adopt_customer.request.params == {
        "metadata": {"billing_sync_key": "acme"},
        "name": "Acme",
    }
    # Everything else points at the adopted ids: no placeholder, no second customer.
    sub = find(plan, "subscription.create:acme/main")
    assert sub.request.params["customer"] == "cus_x"
    assert {"price": "price_x", "quantity": 12} in sub.request.params["items"]
    assert plan.counts()["adopt"] == 3


def test_an_unmanaged_lookup_key_holder_that_cannot_be_reached_is_a_conflict() -> None:
    account = applied(config())
    other = replace(
        account.of(PRICE).managed["pro-monthly"], id="price_x", key="price_x", unit_amount=100
    )
    plan = plan_for(config(), Existing({PRICE.name: Snapshot(unmanaged=(other,))}))
    assert len(plan.conflicts) == 1 and "price_x" in plan.conflicts[0]
    assert "cannot become this price by updates" in plan.conflicts[0]
    assert "price.create:pro-monthly" not in op_ids(plan)


def test_two_unmanaged_customers_with_the_declared_email_are_a_conflict() -> None:
    account = applied(config())
    one = replace(account.of(CUSTOMER).managed["acme"], id="cus_1", key="cus_1")
    two = replace(one, id="cus_2", key="cus_2", email="BILLING@acme.example")
    plan = plan_for(config(), Existing({CUSTOMER.name: Snapshot(unmanaged=(one, two))}))
    assert plan.conflicts == (
        "customer acme: 2 customers billing-sync does not manage have the email "
        "'billing@acme.example' (cus_1, cus_2); it cannot tell which one to adopt: merge them "
        "in Stripe, or declare a different email",
    )


def test_markdown_lists_every_operation() -> None:
    plan = plan_for(config(), Existing())
    md = render_markdown(plan)
    for op in plan.changes:
        assert f"`{op.key}`" in md
    assert md.startswith("### billing-sync plan")


def test_removing_a_currency_option_replaces_the_price() -> None:
    with_eur = config(
        BASE.replace(
            "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}",
            "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}, "
            "currency_options: {eur: {unit_amount: 27000}, gbp: {unit_amount: 25000}}}",
        )
    )
    without_gbp = config(
        BASE.replace(
            "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}",
            "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}, "
            "currency_options: {eur: {unit_amount: 26000}}}",
        )
    )
    # Changing or adding an option is an in-place update ...
    plan = plan_for(with_eur, applied(without_gbp))
    assert op_ids(plan) == ["price.update:pro-yearly"]
    assert find(plan, "price.update:pro-yearly").request.params == {
        "currency_options": {"eur": {"unit_amount": 27000}, "gbp": {"unit_amount": 25000}}
    }
    # ... but Stripe cannot drop one: that is a replace.
    plan = plan_for(without_gbp, applied(with_eur))
    assert op_ids(plan) == ["price.replace:pro-yearly", "price.archive.old:pro-yearly"]
    changes = find(plan, "price.replace:pro-yearly").fields
    assert any(c.path == "currency_options (removed)" and c.old == ["gbp"] for c in changes)


def test_currency_option_tax_behaviour_is_created_and_compared() -> None:
    with_vat = BASE.replace(
        "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}}",
        "pro-yearly: {unit_amount: 29000, currency: usd, recurring: {interval: year}, "
        "currency_options: {eur: {amount: '270.00', tax_behavior: inclusive}}}",
    )
    created = find(plan_for(config(with_vat), Existing()), "price.create:pro-yearly")
    assert created.request.params["currency_options"] == {
        "eur": {"unit_amount": 27000, "tax_behavior": "inclusive"}
    }
    without = config(with_vat.replace(", tax_behavior: inclusive", ""))
    plan = plan_for(config(with_vat), applied(without))
    assert op_ids(plan) == ["price.update:pro-yearly"]
    change = find(plan, "price.update:pro-yearly")
    assert [(c.path, c.old, c.new) for c in change.fields] == [
        ("currency_options.eur.tax_behavior", "unspecified", "inclusive")
    ]
    # Inclusive is final, like the price's own tax behaviour: going back is a replace.
    plan = plan_for(without, applied(config(with_vat)))
    assert op_ids(plan) == ["price.replace:pro-yearly", "price.archive.old:pro-yearly"]


def test_an_undeclared_item_is_removed_only_as_a_destructive_change_shown_in_money() -> None:
    cfg = config()
    existing = applied(cfg)
    subs = dict(existing.of(SUBSCRIPTION).managed)
    sub = subs["acme/main"]
    extra = replace(
        sub.items[0], id="si_by_hand", quantity=3, price="pro-yearly", price_id="price_pro-yearly"
    )
    subs["acme/main"] = replace(sub, items=(*sub.items, extra))
    plan = plan_for(cfg, with_snapshot(existing, SUBSCRIPTION, managed=subs))
    change = find(plan, "subscription.update:acme/main")
    assert {"id": "si_by_hand", "deleted": True} in change.request.params["items"]
    assert change.destructive and not change.protected
    assert change.notes == ("stops billing 3 x pro-yearly (72.50 USD/month)",)
    # 1 destructive change of 7 managed objects: under the default 30%, counted all the same.
    assert plan.destructive_changes == (change,)


def test_a_currency_change_under_a_declared_subscription_is_refused_at_plan_time() -> None:
    before = config()
    after = config(
        BASE.replace(
            "pro-monthly: {unit_amount: 2900, currency: usd",
            "pro-monthly: {unit_amount: 2900, currency: eur",
        ).replace(
            "      seats-graduated:\n        currency: usd",
            "      seats-graduated:\n        currency: eur",
        )
    )
    existing = applied(before)
    subs = {k: replace(s, currency="usd") for k, s in existing.of(SUBSCRIPTION).managed.items()}
    plan = plan_for(after, with_snapshot(existing, SUBSCRIPTION, managed=subs))
    assert any(
        c.startswith(
            "subscription acme/main (sub_acme_main) is billed in USD and billing.yaml "
            "puts it on EUR prices"
        )
        for c in plan.conflicts
    ), plan.conflicts


def test_unmanage_policy_drops_ownership_and_leaves_the_subscription_billing() -> None:
    protected = config(
        BASE.replace("days_until_due: 30\n", "days_until_due: 30\n        protect: true\n")
    )
    after = config(
        BASE.split("customers:")[0]
        + "customers:\n  acme:\n    email: billing@acme.example\n    name: Acme\n"
        + "policies: {subscription_removal: unmanage}\n"
    )
    plan = plan_for(after, applied(protected))
    change = find(plan, "subscription.update:acme/main")
    assert change.request.method == "post"
    assert change.request.params == {
        "metadata": {"billing_sync_key": "", "billing_sync_protect": ""}
    }
    assert not change.destructive and plan.unsafe_reasons == []
    assert "(stop managing sub_acme_main)" in render_text(plan)
