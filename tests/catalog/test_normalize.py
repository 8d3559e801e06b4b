"""Tag normalisation: product-style tags keep their symbols, list markup and formula triggers go, the function is
idempotent and never empties a tag that has a letter or digit, and plain tags normalise exactly as before."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betag_engine.catalog.normalize import is_rewritten, normalize_tag, normalize_tags

PRODUCT_TAGS = [  # typed -> stored
    ("C++", "c++"),
    ("c#", "c#"),
    ("F#", "f#"),
    ("USB-C", "usb-c"),
    ("3.5mm", "3.5mm"),
    ("3.5 mm jack", "3.5 mm jack"),
    ("A4", "a4"),
    ("100% cotton", "100% cotton"),
    ("100%", "100%"),
    ("2-in-1", "2-in-1"),
    ("18+", "18+"),
    ("wi-fi 6e", "wi-fi 6e"),
    ("1/2 inch", "1/2 inch"),
    ("node.js", "node.js"),
    ("AT&T", "at&t"),
    ("rock 'n' roll", "rock 'n' roll"),
    ("Children's", "children's"),
    ("Sci-Fi", "sci-fi"),
    ("Film_Noir", "film noir"),
    ("  Dark   Comedy ", "dark comedy"),
    # stripped at the start: bullets, numbering, quotes, formula triggers
    ("1. Dark Comedy", "dark comedy"),
    ("- usb-c", "usb-c"),
    ("• 3.5mm", "3.5mm"),
    ('"space opera"', "space opera"),
    ("\u201cc++\u201d", "c++"),
    ("=1+1", "1+1"),
    ("-2+3", "2+3"),
    ("+44 adapter", "44 adapter"),
    ("@home", "home"),
    ('=HYPERLINK("http://x")', "hyperlink http //x"),
    # stripped at the end: a sentence's punctuation, not the symbols a tag ends with
    ("**Drama**.", "drama"),
    ("c++.", "c++"),
    ("drama!", "drama"),
    ("usb-c,", "usb-c"),
    ("c# (language)", "c# language"),
]


@pytest.mark.parametrize(("typed", "stored"), PRODUCT_TAGS)
def test_product_style_tags(typed, stored):
    assert normalize_tag(typed) == stored
    assert normalize_tag(stored) == stored


def test_not_tags():
    assert normalize_tag("...") == "" and normalize_tag("  ") == "" and normalize_tag("=+-@") == ""
    assert normalize_tag(None) == ""


def test_length_is_not_normalisation():
    """Too long is a validation rule (catalog.rules, curation), not a spelling: normalisation keeps the tag."""
    assert normalize_tag("x" * 65) == "x" * 65


def test_rewrites_are_changes_beyond_case_and_spacing():
    assert not is_rewritten("C++", "c++") and not is_rewritten("  Dark   Comedy", "dark comedy")
    assert is_rewritten("=1+1", "1+1") and is_rewritten("Film_Noir", "film noir") and is_rewritten("c++.", "c++")


def test_tags_deduplicated_in_order():
    assert normalize_tags(["Drama", "drama ", "Comedy", "", "  ", "C++", "c++."]) == ["drama", "comedy", "c++"]


@given(st.text())
def test_idempotent_and_never_empties_a_tag_with_a_letter_or_digit(text):
    tag = normalize_tag(text)
    assert normalize_tag(tag) == tag
    assert tag == tag.strip()
    if any(ch.isalnum() for ch in text):
        assert tag, f"{text!r} has a letter or digit but normalised to nothing"


@given(st.text(alphabet=st.sampled_from("abcXYZ019 -+#%./&'_=@*•\"()!,\t")))
def test_idempotent_on_symbol_heavy_text(text):
    tag = normalize_tag(text)
    assert normalize_tag(tag) == tag
    if any(ch.isalnum() for ch in text):
        assert tag


@settings(max_examples=500)
@given(st.text())
def test_superset_of_the_earlier_normalisation(legacy_normalize_tag, text):
    """Wherever the earlier function gave a tag and the text holds none of the newly kept symbols (# % +, after
    NFKC), the result is the same: the change only keeps more, it never re-spells what was kept before."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    before = legacy_normalize_tag(text)
    if before and not set("#%+") & set(folded):
        assert normalize_tag(text) == before


@given(st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 -"), max_size=40))
def test_words_spaces_and_hyphens_normalise_exactly_as_before(legacy_normalize_tag, text):
    if legacy_normalize_tag(text):
        assert normalize_tag(text) == legacy_normalize_tag(text)


def test_movielens_genres_normalise_exactly_as_before(legacy_normalize_tag):
    from betag_engine.catalog.movielens import load_frames

    items, _ = load_frames("ml-100k")
    genres = {g for cell in items["tags"] for g in cell.split("|") if g}
    assert len(genres) >= 18 and {"Sci-Fi", "Film-Noir", "Children's"} <= genres
    for genre in genres:
        assert normalize_tag(genre) == legacy_normalize_tag(genre), genre
