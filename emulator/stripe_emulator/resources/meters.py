"""Billing meters (create, update, list, retrieve, deactivate, reactivate), meter events and event summaries.

Rules and their sources (also in emulator/BEHAVIOUR.md):
- Only `display_name` changes after creation ("After you configure the meter, you can't make
  any changes aside from the display name", and "You can only use an event name with a single
  meter": https://docs.stripe.com/billing/subscriptions/usage-based/meters/configure). The
  emulator reads the second sentence strictly: an event name taken by any meter, inactive
  ones included, is refused.
- A deactivated meter accepts no events and cannot be attached to a price; reactivating
  undoes both (https://docs.stripe.com/api/billing/meter/deactivate, .../reactivate).
- Meter events: `identifier` unique over at least 24 hours (stripe.params
  MeterEventCreateParams); a repeated identifier is refused with 400 "An event already exists
  with identifier ..." (a live answer quoted in public code, verified 2026-07-30, with no
  `code`); `timestamp` within the past 35 calendar days or up to 5 minutes ahead (same
  docstring). Customer mapping and value are checked asynchronously by Stripe (errors reach
  the account as `v1.billing.meter.error_report_triggered` events,
  https://docs.stripe.com/api/v2/core/events/event-types), so the create accepts them and an
  event whose customer does not exist, whose value is not a number, or whose meter is
  inactive is kept out of every summary.
- Event summaries: `customer`, `start_time`, `end_time` required, on minute boundaries (hour
  or UTC-day boundaries with `value_grouping_window`), end exclusive (stripe.params
  MeterListEventSummariesParams). One summary for the range, or one per window that has
  events; newest first (an emulator choice: the order is not documented).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import stripe
import stripe.params.billing as spb

from stripe_emulator.errors import ApiError
from stripe_emulator.framework import Obj, ObjectType, Request, Store, register_type, render, route

METER = "billing.meter"
SUMMARY = "billing.meter_event_summary"
EVENTS = "billing_meter_events"  # store table: identifier -> event
DAY = 86_400
MAX_PAST = 35 * DAY
MAX_AHEAD = 5 * 60
WINDOWS = {"hour": 3_600, "day": DAY}

register_type(
    ObjectType(
        name=METER,
        collection="billing_meters",
        id_prefix="mtr",
        stripe_class=stripe.billing.Meter,
    )
)
register_type(
    ObjectType(
        name=SUMMARY,
        collection="billing_meter_event_summaries",  # computed, never stored
        id_prefix="mtrusg",
        stripe_class=stripe.billing.MeterEventSummary,
    )
)


def _names(store: Store) -> dict[str, str]:
    """event_name -> meter id (every meter: Stripe gives an event name to one meter only)."""
    return store.table("billing_meter_event_names")


def _text(value: Any, param: str, most: int) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError.invalid(f"Missing required param: {param}.", param=param)
    if len(value) > most:
        raise ApiError.invalid(f"{param} may be at most {most} characters.", param=param)
    return value


@route(
    "POST",
    "/v1/billing/meters",
    spb.MeterCreateParams,
    implemented={
        "display_name",
        "event_name",
        "default_aggregation.formula",
        "customer_mapping.event_payload_key",
        "customer_mapping.type",
        "value_settings.event_payload_key",
        "event_time_window",
    },
    returns=METER,
)
def create_meter(req: Request) -> Obj:
    p = req.params
    display_name = _text(p.get("display_name"), "display_name", 250)
    event_name = _text(p.get("event_name"), "event_name", 100)
    formula = (p.get("default_aggregation") or {}).get("formula")
    if formula not in ("sum", "count", "last"):
        raise ApiError.invalid(
            f"Invalid default_aggregation[formula]: must be one of count, last or sum (got {formula!r}).",
            param="default_aggregation[formula]",
        )
    mapping = p.get("customer_mapping") or {}
    if mapping and mapping.get("type") != "by_id":
        raise ApiError.invalid(
            "Invalid customer_mapping[type]: must be by_id.", param="customer_mapping[type]"
        )
    customer_key = mapping.get("event_payload_key") or "stripe_customer_id"
    value_key = (p.get("value_settings") or {}).get("event_payload_key") or "value"
    window = p.get("event_time_window") or None
    if window not in (None, "day", "hour"):
        raise ApiError.invalid(
            "Invalid event_time_window: must be one of day or hour.", param="event_time_window"
        )
    names = _names(req.store)
    if event_name in names:
        raise ApiError.conflict(
            f"A meter with event_name `{event_name}` already exists ({names[event_name]}); an "
            "event name can only be used with a single meter.",
            param="event_name",
        )
    obj: Obj = {
        "id": req.store.new_id(METER),
        "object": METER,
        "created": req.now,
        "customer_mapping": {"event_payload_key": customer_key, "type": "by_id"},
        "default_aggregation": {"formula": formula},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": window,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": req.now,
        "value_settings": {"event_payload_key": value_key},
    }
    names[event_name] = obj["id"]
    req.store.insert(METER, obj)
    return req.render(METER, obj)


@route("GET", "/v1/billing/meters/{id}", spb.MeterRetrieveParams, implemented=set(), returns=METER)
def retrieve_meter(req: Request) -> Obj:
    return req.render(METER, req.store.get_or_404(METER, req.path_args["id"], kind="billing meter"))


@route(
    "POST",
    "/v1/billing/meters/{id}",
    spb.MeterUpdateParams,
    implemented={"display_name"},
    returns=METER,
)
def update_meter(req: Request) -> Obj:
    obj = req.store.get_or_404(METER, req.path_args["id"], kind="billing meter")
    if "display_name" in req.params:
        obj["display_name"] = _text(req.params["display_name"], "display_name", 250)
        obj["updated"] = req.now
    return req.render(METER, obj)


def _set_status(req: Request, active: bool) -> Obj:
    obj = req.store.get_or_404(METER, req.path_args["id"], kind="billing meter")
    want = "active" if active else "inactive"
    if obj["status"] == want:
        raise ApiError.conflict(f"This meter is already {want}.", param="id")
    obj["status"] = want
    obj["status_transitions"] = {"deactivated_at": None if active else req.now}
    obj["updated"] = req.now
    return req.render(METER, obj)


@route(
    "POST",
    "/v1/billing/meters/{id}/deactivate",
    spb.MeterDeactivateParams,
    implemented=set(),
    returns=METER,
)
def deactivate_meter(req: Request) -> Obj:
    return _set_status(req, False)


@route(
    "POST",
    "/v1/billing/meters/{id}/reactivate",
    spb.MeterReactivateParams,
    implemented=set(),
    returns=METER,
)
def reactivate_meter(req: Request) -> Obj:
    return _set_status(req, True)


@route(
    "GET",
    "/v1/billing/meters",
    spb.MeterListParams,
    implemented={"status"},
    returns=f"list:{METER}",
)
def list_meters(req: Request) -> Obj:
    status = req.params.get("status") or None
    if status not in (None, "active", "inactive"):
        raise ApiError.invalid("Invalid status: must be one of active or inactive.", param="status")
    where = None if status is None else (lambda o: o["status"] == status)
    return req.list_response(METER, url="/v1/billing/meters", where=where)


# -- meter events ------------------------------------------------------------------------------


@route(
    "POST",
    "/v1/billing/meter_events",
    spb.MeterEventCreateParams,
    implemented={"event_name", "payload", "identifier", "timestamp"},
    returns="raw",
)
def create_meter_event(req: Request) -> Obj:
    p = req.params
    event_name = _text(p.get("event_name"), "event_name", 100)
    payload = p.get("payload")
    if not isinstance(payload, dict) or not payload:
        raise ApiError.invalid(
            "Missing required param: payload.", param="payload", code="parameter_missing"
        )
    timestamp = p.get("timestamp")
    if timestamp in (None, ""):
        timestamp = req.now
    if not isinstance(timestamp, int) or not req.now - MAX_PAST <= timestamp <= req.now + MAX_AHEAD:
        raise ApiError.invalid(
            "The timestamp must be within the past 35 calendar days or up to 5 minutes in the "
            "future.",
            param="timestamp",
        )
    events = req.store.table(EVENTS)
    identifier = p.get("identifier") or f"emu_{req.store.new_id(METER)[4:]}"
    previous = events.get(identifier)
    if previous is not None and previous["created"] > req.now - DAY:
        raise ApiError.invalid(
            f"An event already exists with identifier {identifier}.",
            param="identifier",
            validation=False,
        )
    meter_id = _names(req.store).get(event_name)
    meter = req.store.get(METER, meter_id) if meter_id else None
    event: Obj = {
        "object": "billing.meter_event",
        "created": req.now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": {str(k): str(v) for k, v in payload.items()},
        "timestamp": timestamp,
        # Accepted here, aggregated only when valid (Stripe checks these asynchronously).
        "_meter": meter_id if meter is not None and meter["status"] == "active" else None,
    }
    events[identifier] = event
    return {k: v for k, v in event.items() if not k.startswith("_")}


def _aligned(value: Any, param: str, step: int, what: str) -> int:
    if not isinstance(value, int):
        raise ApiError.invalid(f"Missing required param: {param}.", param=param)
    if value % step:
        raise ApiError.invalid(f"{param} must be aligned with {what} boundaries.", param=param)
    return value


def _aggregate(formula: str, values: list[tuple[int, Decimal]]) -> float:
    if formula == "count":
        return float(len(values))
    if formula == "last":
        return float(max(values)[1]) if values else 0.0
    return float(sum((v for _, v in values), Decimal(0)))


@route(
    "GET",
    "/v1/billing/meters/{id}/event_summaries",
    spb.MeterListEventSummariesParams,
    implemented={"customer", "start_time", "end_time", "value_grouping_window"},
    returns=f"list:{SUMMARY}",
)
def list_event_summaries(req: Request) -> Obj:
    store = req.store
    meter = store.get_or_404(METER, req.path_args["id"], kind="billing meter")
    p = req.params
    customer = p.get("customer")
    if not isinstance(customer, str) or not customer:
        raise ApiError.invalid("Missing required param: customer.", param="customer")
    store.get_named("customer", customer, param="customer")
    grouping = p.get("value_grouping_window") or None
    if grouping not in (None, "hour", "day"):
        raise ApiError.invalid(
            "Invalid value_grouping_window: must be one of day or hour.",
            param="value_grouping_window",
        )
    step, what = (WINDOWS[grouping], f"{grouping}") if grouping else (60, "minute")
    start = _aligned(p.get("start_time"), "start_time", step, what)
    end = _aligned(p.get("end_time"), "end_time", step, what)
    if end <= start:
        raise ApiError.invalid("end_time must be after start_time.", param="end_time")
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    formula = meter["default_aggregation"]["formula"]
    found: list[tuple[int, Decimal]] = []
    for event in store.table(EVENTS).values():
        if event["_meter"] != meter["id"] or not start <= event["timestamp"] < end:
            continue
        if event["payload"].get(customer_key) != customer:
            continue
        try:
            value = Decimal(event["payload"].get(value_key, "1" if formula == "count" else ""))
        except InvalidOperation:
            continue  # Stripe reports it asynchronously and never aggregates it
        if value.is_finite():
            found.append((event["timestamp"], value))
    windows = (
        [(start, end)]
        if grouping is None
        else sorted({(t - t % step, t - t % step + step) for t, _ in found})
    )
    summaries = [
        {
            "id": f"mtrusg_{meter['id'][4:]}_{lo}",
            "object": SUMMARY,
            "aggregated_value": _aggregate(formula, [(t, v) for t, v in found if lo <= t < hi]),
            "end_time": hi,
            "livemode": False,
            "meter": meter["id"],
            "start_time": lo,
        }
        for lo, hi in reversed(windows)
    ]
    page = _page(summaries, p, f"/v1/billing/meters/{meter['id']}/event_summaries")
    return render(store, f"list:{SUMMARY}", page, req.expand)


def _page(objs: list[Obj], p: dict[str, Any], url: str) -> Obj:
    limit = p.get("limit") or 10
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ApiError.invalid("Invalid limit: must be between 1 and 100", param="limit")
    ids = [o["id"] for o in objs]
    for cursor in ("starting_after", "ending_before"):
        value = p.get(cursor)
        if value and value not in ids:
            raise ApiError.missing_param("billing meter event summary", str(value), param=cursor)
    if p.get("starting_after"):
        objs = objs[ids.index(p["starting_after"]) + 1 :]
    elif p.get("ending_before"):
        objs = objs[: ids.index(p["ending_before"])][-limit:]
    return {"object": "list", "data": objs[:limit], "has_more": len(objs) > limit, "url": url}
