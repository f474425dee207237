from common import regions


def test_there_are_34_provincial_level_divisions():
    assert len(regions.PROVINCES) == 34


def test_short_names_map_to_canonical_names():
    assert regions.canonical_province("川") == "四川省"
    assert regions.canonical_province("沪") == "上海市"
    assert regions.canonical_province("上海") == "上海市"
    assert regions.canonical_province("广西") == "广西壮族自治区"
    assert regions.canonical_province("四川省") == "四川省"


def test_home_town_is_not_a_place():
    assert regions.canonical_province("老家") is None
    assert regions.canonical_province("") is None
