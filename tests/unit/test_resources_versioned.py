"""Versioned kinds (promotion codes, tax rates): which of several objects of a key is current."""

from __future__ import annotations

import pytest

from billing_sync.resources.tax_rate import TAX_RATE, TaxRateState


def rate(id_: str, *, active: bool, created: int) -> TaxRateState:
    return TaxRateState("vat", "VAT", "19", False, active=active, id=id_, created=created)


@pytest.mark.parametrize("ids", [("txr_a", "txr_z"), ("txr_z", "txr_a")])
def test_within_one_second_the_newest_is_the_one_stripe_lists_first(
    ids: tuple[str, str],
) -> None:
    # Found by the convergence fuzz: `created` is in seconds, and two versions made in the same
    # second were told apart by their (random) ids, so the next plan could update the archived
    # predecessor instead of its successor. Stripe lists newest first: the list order decides.
    newest, older = rate(ids[0], active=False, created=100), rate(ids[1], active=False, created=100)
    snapshot = TAX_RATE.group([newest, older], [])
    assert snapshot.managed["vat"] is newest
    assert snapshot.others == (older,)
    # An active version is current whatever its age; then the newest.
    live = rate("txr_m", active=True, created=99)
    assert TAX_RATE.group([newest, live, older], []).managed["vat"] is live
    assert (
        TAX_RATE.group([rate("txr_b", active=False, created=101), newest], []).managed["vat"].id
        == "txr_b"
    )
