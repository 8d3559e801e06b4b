"""What the LLM reads about an item: the presets' fields, bounded descriptions, and the movie prompt unchanged."""

from betag_engine.tagging.config import PromptConfig
from betag_engine.tagging.item_text import ItemInfo, one_line, render_item

TOY = ItemInfo("Toy Story", metadata={"year": 1995}, native=("Animation", "Children's", "Comedy"))


def test_title_only_movie_prompt_is_the_one_earlier_results_were_made_with():
    prompt = PromptConfig(item_fields=["title"]).base_prompt(ItemInfo("English Patient, The",
                                                                      metadata={"year": "1996"}))
    assert prompt.startswith("Tags for each movie: genre and subgenre, mood, themes, setting, audience. Comma "
                             "separated.\n\nMovie: Gladiator (2000)\nTags: historical epic, action, drama, ancient "
                             "rome, revenge, gladiators, war, adults\n\nMovie: Finding Nemo (2003)\nTags: ")
    assert prompt.endswith("\n\nMovie: The English Patient (1996)\nTags:")


def test_chosen_fields_appear_in_the_item_and_in_every_few_shot_example():
    prompt = PromptConfig().base_prompt(TOY)  # the movie preset shows the native genres
    assert prompt.endswith("Movie: Toy Story (1995)\nGenres: animation, children's, comedy\nTags:")
    assert prompt.count("Genres: ") == 7  # six examples and the item


def test_product_preset_shows_brand_category_and_a_bounded_description():
    item = ItemInfo("BIC Round Stic Ball Pen, 12 Pens", "word " * 200, {"brand": "BIC"},
                    ("Office & School Supplies", "Writing & Correction Supplies", "Pens"))
    block = PromptConfig(domain="products").item_text(item)
    lines = block.split("\n")
    assert lines[0] == "BIC Round Stic Ball Pen, 12 Pens" and lines[1] == "Brand: BIC"
    assert lines[2] == "Category: office & school supplies, writing & correction supplies, pens"
    assert lines[3].startswith("Description: word word") and len(lines[3]) <= len("Description: ") + 200
    assert "Office" not in PromptConfig(domain="products").base_template.split("Product: {item}")[0]


def test_missing_fields_leave_no_empty_lines_and_values_stay_on_one_line():
    assert render_item(ItemInfo("A\ntitle"), ["title", "brand", "native", "description"], 100) == "A title"
    assert one_line("a  b\n c", 3) == "a b"
    assert one_line("abcdef", 3) == "abc"


def test_a_real_product_reads_with_its_brand_category_and_description(db_url):
    from pathlib import Path

    from betag_engine.catalog.importer import import_files
    from betag_engine.tagging.item_text import item_infos
    from db.session import session_scope

    folder = Path(__file__).resolve().parents[1] / "data" / "office-slice"
    import_files(db_url, str(folder / "items.csv"), str(folder / "interactions.csv"))
    with session_scope(db_url) as s:
        infos = item_infos(s, range(1, 41), "native")
    blocks = [PromptConfig(domain="products").item_text(info) for info in infos.values()]
    assert len(blocks) == 40 and all("\nCategory: " in b for b in blocks)
    assert sum("\nBrand: " in b for b in blocks) == 30  # 10 items have no brand: no empty line for them
    assert not any("&amp;" in b or "&nbsp;" in b for b in blocks)  # entities read as characters
    assert sum("\nDescription: " in b for b in blocks) >= 20
