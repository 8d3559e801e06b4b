from hypothesis import given, settings
from hypothesis import strategies as st

from betag_engine.catalog.normalize import normalize_tag
from betag_engine.tagging.parsing import MAX_TAGS, is_refusal, parse_tags


def test_common_formats():
    assert parse_tags('1. Action 2. Sci-Fi 3. "Aliens"') == ["action", "sci-fi", "aliens"]
    assert parse_tags("- action\n- drama\n* comedy\n• war") == ["action", "drama", "comedy", "war"]
    assert parse_tags("Tags: dinosaurs, jungle adventure; sci fi | action movie") == [
        "dinosaurs", "jungle adventure", "sci fi", "action movie"]
    assert parse_tags("'space', \u201cwar\u201d") == ["space", "war"]


def test_refusals_empty_repeated_overlong():
    assert parse_tags("I cannot help with that request.") == []
    assert parse_tags("As an AI language model, I do not watch movies.") == []
    assert parse_tags("I'm sorry, but I can't provide tags") == []
    assert parse_tags("") == [] and parse_tags("   \n ") == [] and parse_tags(None) == []
    assert parse_tags("drama, drama, Drama, DRAMA ") == ["drama"]
    assert parse_tags("this is a whole sentence and not a tag at all, romance") == ["romance"]
    assert len(parse_tags(", ".join(f"tag{i}" for i in range(500)))) == MAX_TAGS
    assert parse_tags("x" * 200) == []
    assert is_refusal("As an AI") and not is_refusal("artificial intelligence, robots")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600), st.integers(1, 30))
def test_never_crashes_and_output_is_normalised_unique_bounded(text, max_tags):
    tags = parse_tags(text, max_tags=max_tags)
    assert len(tags) <= max_tags
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert tag and normalize_tag(tag) == tag and len(tag) <= 64 and len(tag.split(" ")) <= 5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=20), max_size=15))
def test_comma_lists_round_trip(parts):
    tags = parse_tags(", ".join(parts))
    expected = [t for t in dict.fromkeys(normalize_tag(p) for p in parts) if t and len(t.split(" ")) <= 5]
    assert set(tags) <= set(expected)
