"""Provinces and cities in an answer, as the canonical names the exchange expects.

The NLU already reports ``province``/``city`` entities (canonical names); when
it did not (a bare "成都" typed as an answer), the same ``nluext.places``
matcher finds them in the text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from actions.dialogue import Turn, latest_entities
from common import regions
from nluext.places import PlaceMatcher


@dataclass(frozen=True)
class Place:
    province: str | None
    city: str | None
    # Where it was said in the message (to tell "从A" from "到B").
    start: int = -1

    @property
    def name(self) -> str:
        return self.city or self.province or ""


@functools.cache
def _matcher() -> PlaceMatcher:
    provinces = [alias for name, aliases in regions.PROVINCES.items() for alias in (name, *aliases)]
    cities = [n for names in regions.cities().values() for city in names
              for n in {city, regions.short_city(city)}]  # fmt: skip
    return PlaceMatcher.from_tables(provinces, cities, {})


def place_of(province: str | None, city: str | None) -> Place | None:
    """A consistent place from canonical names; a municipality is its own city."""
    if city:
        city = regions.canonical_city(city) or city
        return Place(regions.province_of_city(city) or province, city)
    if province:
        province = regions.canonical_province(province) or province
        city = province if province in regions.MUNICIPALITIES else None
        return Place(province, city)
    return None


def places_in(turn: Turn) -> list[Place]:
    """Every place named in the latest message, in the order said (entities first)."""
    found: list[tuple[int, Place]] = []
    for entity in latest_entities(turn.tracker):
        kind, value = entity.get("entity"), entity.get("value")
        if kind not in ("city", "province") or not value:
            continue
        place = place_of(None, value) if kind == "city" else place_of(value, None)
        if place is None:
            continue
        # "四川成都": the province only says where the city is.
        if kind == "province" and any(p.province == place.province for _, p in found):
            continue
        found = [(s, p) for s, p in found if not (p.city is None and p.province == place.province)]
        found.append((int(entity.get("start") or 0), place))
    if not found:
        for match in _matcher().find(turn.text):
            is_city = match.entity == "city"
            place = place_of(None, match.value) if is_city else place_of(match.value, None)
            if place is None:
                continue
            if not is_city and any(p.province == place.province for _, p in found):
                continue
            found = [
                (s, p) for s, p in found if not (p.city is None and p.province == place.province)
            ]
            found.append((match.start, place))
    ordered: list[Place] = []
    for start, place in sorted(found, key=lambda item: item[0]):
        if all((p.province, p.city) != (place.province, place.city) for p in ordered):
            ordered.append(Place(place.province, place.city, start))
    return ordered


_FROM_WORDS = ("从", "由", "原来", "现在在", "转出", "离开", "本来")
_TO_WORDS = ("到", "去", "往", "转入", "转去", "迁到", "搬到", "回")


def direction(text: str, place: Place) -> str | None:
    """ "from" or "to" when the words just before the place say so."""
    if place.start < 0:
        return None
    before = text[max(0, place.start - 4) : place.start]
    for word in sorted(_FROM_WORDS + _TO_WORDS, key=len, reverse=True):
        if before.endswith(word) or word in before[-3:]:
            return "from" if word in _FROM_WORDS else "to"
    return None


def first_place(turn: Turn) -> Place | None:
    found = places_in(turn)
    return found[0] if found else None
