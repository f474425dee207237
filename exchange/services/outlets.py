"""Service halls (outlets): public information, looked up by city and service."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.core.problems import not_found
from exchange.core.security import Caller
from exchange.models import Outlet
from exchange.services import audit

_CITY_SUFFIXES = ("市", "地区", "盟", "自治州")


def city_stem(name: str) -> str:
    """成都市 -> 成都, so that 成都 and 成都市 find the same halls."""
    name = name.strip()
    for suffix in _CITY_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def view(outlet: Outlet) -> dict:
    return {
        "outlet_id": outlet.outlet_id,
        "name": outlet.name,
        "province": outlet.province,
        "city": outlet.city,
        "district": outlet.district,
        "address": outlet.address,
        "opening_hours": outlet.opening_hours,
        "phone": outlet.phone,
        "services": list(outlet.services),
        "accessibility": outlet.accessibility,
    }


def search(
    *, session: Session, caller: Caller, now: dt.datetime, city: str | None, service: str | None
) -> list[dict]:
    query = select(Outlet).order_by(Outlet.city, Outlet.outlet_id)
    if city:
        # Cities are few and stored canonically; matching on the stem avoids a city table.
        stems = {city_stem(city)}
        names = [name for name in session.execute(select(Outlet.city).distinct()).scalars()]
        query = query.where(Outlet.city.in_([n for n in names if city_stem(n) in stems]))
    found = [
        view(outlet)
        for outlet in session.execute(query).scalars()
        if service is None or service in outlet.services
    ]
    audit.record(
        session=session, caller=caller, now=now, action="outlets.search",
        resource=f"outlets?city={city or ''}&service={service or ''}",
    )  # fmt: skip
    return found


def get(*, session: Session, caller: Caller, now: dt.datetime, outlet_id: str) -> dict:
    outlet = session.get(Outlet, outlet_id)
    if outlet is None:
        raise not_found("outlet", "No service hall has this outlet_id.")
    audit.record(
        session=session, caller=caller, now=now, action="outlets.read",
        resource=f"outlets/{outlet_id}",
    )  # fmt: skip
    return view(outlet)
