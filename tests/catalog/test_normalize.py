from hypothesis import given
from hypothesis import strategies as st

from betag_engine.catalog.normalize import MAX_TAG_CHARS, normalize_tag, normalize_tags


def test_examples():
    assert normalize_tag("  Sci-Fi ") == "sci-fi"
    assert normalize_tag("1. Dark   Comedy") == "dark comedy"
    assert normalize_tag('- "space opera"') == "space opera"
    assert normalize_tag("Film_Noir") == "film noir"
    assert normalize_tag("**Drama**.") == "drama"
    assert normalize_tag("Children's") == "children's"
    assert normalize_tag("...") == ""
    assert normalize_tag("x" * (MAX_TAG_CHARS + 1)) == ""


def test_tags_deduplicated_in_order():
    assert normalize_tags(["Drama", "drama ", "Comedy", "", "  "]) == ["drama", "comedy"]


@given(st.text())
def test_normalize_is_idempotent_and_bounded(text):
    tag = normalize_tag(text)
    assert normalize_tag(tag) == tag
    assert len(tag) <= MAX_TAG_CHARS
    assert tag == tag.strip()
