"""Find provinces and cities in what people say, as canonical names.

``PlaceMatcher`` is built from the NLU lookup tables (``province``, ``city``)
and the synonyms whose value is a province or city, so trainers add a place
nickname (蓉城 -> 成都市) in YAML, not here. Pure Python, no Rasa import; the
Rasa component is ``nluext.components.PlaceEntityExtractor``.

Rules, each because of a real false positive:

* longest name first: ``吉林市`` is the city, ``吉林`` the province;
  ``四川省`` one place, not ``四川`` + ``省``;
* a name must start and end on a word (token) boundary when tokens are given,
  so ``常德`` is not found in ``非常德高望重``;
* a name followed by a street word is a street (``北京路``, ``中山公园``);
* a one-character abbreviation (``川``, ``沪``) counts only right after a
  word of movement or location (``从川转到粤``) or right before ``省``;
* ``老家`` and other words that only refer to a place are not places.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from common import regions

PROVINCE = "province"
CITY = "city"

# A place name followed by one of these names a street, a park, a school...
_STREET_WORDS = (
    "路", "街", "大道", "大街", "巷", "胡同", "公园", "广场", "小区", "大学", "中学", "小学",
    "医院", "饭店", "酒店", "宾馆", "银行", "菜", "话",
)  # fmt: skip
# Words after which a one-character abbreviation is a place: 从川, 回沪, 到粤.
_BEFORE_ABBREVIATION = (
    "从", "在", "到", "回", "去", "往", "由", "自", "离开", "来自", "转到", "转去", "转回",
    "迁到", "迁往", "调到", "搬到", "来到",
)  # fmt: skip


@dataclass(frozen=True)
class Place:
    """``text[start:end]`` names the ``entity`` (province/city) ``value``."""

    entity: str
    value: str
    start: int
    end: int


class PlaceMatcher:
    """Longest-match search over place names, each mapped to (entity, canonical)."""

    def __init__(self, names: dict[str, tuple[str, str]]) -> None:
        self.names = dict(names)
        self._longest = max((len(n) for n in self.names), default=0)

    @classmethod
    def from_tables(
        cls,
        provinces: Iterable[str],
        cities: Iterable[str],
        synonyms: dict[str, str],
    ) -> PlaceMatcher:
        """Build from lookup elements and ``synonyms`` (alias -> canonical value).

        An element is kept when it resolves to a canonical province/city of
        ``common.regions``; a province wins over a city of the same name
        (``吉林``, ``北京``). Synonyms whose value is a place add their alias.
        """
        names: dict[str, tuple[str, str]] = {}
        canonical_cities = {c for names_ in regions.cities().values() for c in names_}

        def resolve(text: str) -> tuple[str, str] | None:
            value = synonyms.get(text, text)
            if regions.is_province(value):
                return PROVINCE, value
            if value in canonical_cities:
                return CITY, value
            province = regions.canonical_province(value)
            if province:
                return PROVINCE, province
            city = regions.canonical_city(value)
            return (CITY, city) if city else None

        for element in cities:
            found = resolve(element)
            if found:
                names[element] = found
        for alias, value in synonyms.items():
            if value in canonical_cities and alias not in names:
                names[alias] = (CITY, value)
        # Provinces last so they win over cities of the same name.
        for element in provinces:
            found = resolve(element)
            if found:
                names[element] = found
        for alias, value in synonyms.items():
            if regions.is_province(value):
                names[alias] = (PROVINCE, value)
        return cls(names)

    @classmethod
    def from_regions(cls) -> PlaceMatcher:
        """The matcher the NLU model uses, for code outside Rasa (validation actions).

        Built from the same generated names as data/nlu/lookups/places.yml, so it
        leaves out the one-character abbreviations that are everyday words (新, 申).
        """
        from nluext import lookups

        provinces, cities = lookups.province_names(), lookups.city_names()
        synonyms = {alias: name for name, aliases in provinces.items() for alias in aliases}
        synonyms |= {short: name for name, shorts in cities.items() for short in shorts}
        return cls.from_tables(
            [n for name, aliases in provinces.items() for n in (name, *aliases) if len(n) > 1],
            [n for name, shorts in cities.items() for n in (name, *shorts)],
            synonyms,
        )

    def find(self, text: str, token_spans: Sequence[tuple[int, int]] | None = None) -> list[Place]:
        """Places in ``text``, left to right, not overlapping.

        ``token_spans`` are (start, end) of the tokenizer's words; when given,
        a name must start and end on word boundaries.
        """
        spans = self._split_compounds(text, token_spans) if token_spans else None
        starts = {s for s, _ in spans} if spans else None
        ends = {e for _, e in spans} if spans else None
        found: list[Place] = []
        i = 0
        while i < len(text):
            match = self._match_at(text, i, starts, ends)
            if match:
                found.append(match)
                i = match.end
            else:
                i += 1
        return found

    def _split_compounds(
        self, text: str, spans: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Split words that are only place names (Jieba knows 广西南宁 as one word)."""
        result: list[tuple[int, int]] = []
        for start, end in spans:
            pieces: list[tuple[int, int]] = []
            i = start
            while i < end:
                for length in range(min(self._longest, end - i), 1, -1):
                    if text[i : i + length] in self.names:
                        pieces.append((i, i + length))
                        i += length
                        break
                else:
                    break
            result.extend(pieces if i == end and len(pieces) > 1 else [(start, end)])
        return result

    def _match_at(
        self, text: str, i: int, starts: set[int] | None, ends: set[int] | None
    ) -> Place | None:
        for length in range(min(self._longest, len(text) - i), 0, -1):
            name = text[i : i + length]
            entry = self.names.get(name)
            if entry is None:
                continue
            end = i + length
            if length == 1:
                # Jieba glues abbreviations to their neighbours (从川, 回湘), so
                # they are judged by the words around them instead of tokens.
                if not self._abbreviation_in_context(text, i):
                    continue
            elif (starts is not None and i not in starts) or (ends is not None and end not in ends):
                continue
            if text.startswith(_STREET_WORDS, end):
                continue
            return Place(entry[0], entry[1], i, end)
        return None

    @staticmethod
    def _abbreviation_in_context(text: str, i: int) -> bool:
        before = text[:i].rstrip()
        return before.endswith(_BEFORE_ABBREVIATION) or text.startswith("省", i + 1)
