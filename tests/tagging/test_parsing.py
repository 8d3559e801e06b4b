import pytest
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


# Tags the base, TagGPT and BETag stages typically generate (the prompts' few-shot tags and the quick pipeline's
# outputs): their parse must not change with the normalisation that keeps symbols, or the published evaluation's
# generated tags would.
GENERATED = ["sci-fi", "teen comedy", "1940s", "father and son", "historical epic", "ancient rome", "neo western",
             "post apocalyptic", "dark humor", "horror comedy", "road trip", "love story", "tearjerker",
             "period piece", "high school", "crime thriller", "kids", "animation", "family", "children's",
             "film-noir", "world war ii", "70s", "based on a true story", "coming-of-age", "stainless steel",
             "french press", "computer accessories", "rainwear", "1990s", "new york city", "rock 'n' roll"]


@pytest.fixture(scope="session")
def legacy_parse(legacy_normalize_tag):
    """parse_tags as it was until symbols were kept: the same parser over the earlier normalisation (conftest)."""
    from betag_engine.tagging import parsing

    def parse(text: str) -> list[str]:
        original = parsing.normalize_tag
        parsing.normalize_tag = legacy_normalize_tag
        try:
            return parse_tags(text)
        finally:
            parsing.normalize_tag = original

    return parse


def test_generated_tags_parse_exactly_as_before(legacy_parse):
    completions = [", ".join(GENERATED), "\n".join(f"{n}. {t.title()}" for n, t in enumerate(GENERATED, 1)),
                   "Tags: " + "; ".join(f'"{t}"' for t in GENERATED[:10]) + ".",
                   " - ".join(GENERATED[10:20]), "Sci-Fi, Teen Comedy, 1940s, Father and Son\n\nMovie: next"]
    for text in completions:
        assert parse_tags(text) == legacy_parse(text), text
    assert parse_tags(", ".join(GENERATED))[:4] == ["sci-fi", "teen comedy", "1940s", "father and son"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789 -'"), min_size=1,
                        max_size=25), max_size=12), st.sampled_from([", ", "\n", "; ", "\n- "]))
def test_plain_generated_lists_parse_exactly_as_before(legacy_parse, parts, separator):
    text = separator.join(parts)
    assert parse_tags(text) == legacy_parse(text)


def test_what_changes_for_llm_output(legacy_parse):
    """The only differences: # and % are kept inside a tag, + # % at its end (they used to be dropped)."""
    assert parse_tags("C++, C#, 100% cotton, 18+, usb-c") == ["c++", "c#", "100% cotton", "18+", "usb-c"]
    assert legacy_parse("C++, C#, 100% cotton, 18+, usb-c") == ["c", "100 cotton", "18", "usb-c"]
    assert parse_tags("x" * 65) == [] and parse_tags("a" * 64) == ["a" * 64]
