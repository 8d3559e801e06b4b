"""Prompt templates per domain, as an editable dataclass saved with each tagging system's params.

Base models (Gemma 3 270M) get few-shot *completion* prompts. The few-shot examples are items that are not in
the built-in catalogs (films after 1998 for ml-100k/ml-1m) and span different genres, moods and audiences, so
copied tags do not leak an evaluated item's own tags (small models copy few-shot tags into their outputs).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

_MOVIE_SHOTS = (
    ("Gladiator (2000)", "historical epic, action, drama, ancient rome, revenge, gladiators, war, adults"),
    ("Finding Nemo (2003)", "animation, family, adventure, comedy, ocean, fish, father and son, kids"),
    ("Mean Girls (2004)", "teen comedy, high school, satire, friendship, popularity, teenagers"),
    ("No Country for Old Men (2007)", "crime thriller, neo western, texas, hitman, violence, dark, suspense"),
    ("The Notebook (2004)", "romance, drama, love story, 1940s, tearjerker, period piece"),
    ("Zombieland (2009)", "horror comedy, zombies, road trip, post apocalyptic, dark humor, action"),
)
_PRODUCT_SHOTS = (
    ("Stainless steel French press coffee maker, 1 liter", "coffee, kitchen, brewing, stainless steel, french press"),
    ("Kids' waterproof rain jacket with hood", "clothing, kids, rainwear, outdoor, waterproof"),
    ("Wireless ergonomic mouse, rechargeable", "computer accessories, wireless, ergonomic, office, mouse"),
)


def _few_shot(header: str, noun: str, shots: tuple[tuple[str, str], ...]) -> str:
    body = "".join(f"{noun}: {text}\nTags: {tags}\n\n" for text, tags in shots)
    return f"{header}\n\n{body}{noun}: {{item}}\nTags:"


@dataclass
class PromptConfig:
    """Every prompt the tagging stages use. Placeholders: ``{item}`` (item text), ``{tag}`` (judge prompt)."""

    domain: str = field(default="movies", metadata={"help": "Preset the defaults came from: movies | products."})
    base_template: str = field(default="", metadata={"help": "Base-tag prompt (BETag eq. 1); must contain {item}."})
    instruction: str = field(
        default="",
        metadata={"help": "BETag's static instruction (Figure 2), followed by one line of tags per item."},
    )
    judge_template: str = field(
        default="", metadata={"help": "Confidence prompt (LLM4Tag §3.4); contains {item} and {tag}; answer Yes/No."}
    )
    yes: str = field(default=" Yes", metadata={"help": "Answer string scored as P(Yes)."})
    no: str = field(default=" No", metadata={"help": "Answer string scored as P(No)."})

    def __post_init__(self) -> None:
        preset = DOMAIN_PRESETS.get(self.domain)
        if preset is None:
            raise ValueError(f"domain must be one of {', '.join(DOMAIN_PRESETS)}, got {self.domain!r}")
        for f in ("base_template", "instruction", "judge_template"):
            if not getattr(self, f):
                setattr(self, f, preset[f])
        if "{item}" not in self.base_template:
            raise ValueError("base_template must contain {item}")
        if "{item}" not in self.judge_template or "{tag}" not in self.judge_template:
            raise ValueError("judge_template must contain {item} and {tag}")
        if not self.instruction.strip():
            raise ValueError("instruction must not be empty")

    def base_prompt(self, item_text: str) -> str:
        return self.base_template.replace("{item}", _one_line(_front_article(item_text)))

    def betag_prompt(self, base_tags: list[str]) -> str:
        """Inference prompt (§3.4): instruction, the item's base tags as line 1, then an open line 2."""
        return f"{self.instruction}\n{tag_line(base_tags)}\n"

    def context_prompt(self, base_tags: list[str], pairs: list[tuple[list[str], list[str]]]) -> str:
        """BETag's prompt with behaviour in context: the instruction, then each (item, successor) pair of the
        behaviour graph as two lines of the same sequence format, the most relevant pair last, then the item's
        base tags and an open line. The model sees in its prompt what followed this item (or items like it)."""
        shown = "".join(f"{tag_line(a)}\n{tag_line(b)}\n" for a, b in reversed(pairs))
        return f"{self.instruction}\n{shown}{tag_line(base_tags)}\n"

    def judge_prompt(self, item_text: str, tag: str) -> str:
        return self.judge_template.replace("{item}", _one_line(item_text)).replace("{tag}", tag)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "PromptConfig":
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"prompt field must be one of {', '.join(sorted(known))}, got {', '.join(sorted(unknown))}"
            )
        return cls(**data)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: Path) -> "PromptConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def tag_line(tags: list[str]) -> str:
    """One item as a line of comma-separated tags (the sequence format of Figure 2)."""
    return ", ".join(t.replace(",", " ").replace("\n", " ") for t in tags)


_TRAILING_ARTICLE = re.compile(r"^(?P<head>[^,(]+(?:,[^,(]+)*?), (?P<art>The|A|An)(?P<tail> \(\d{4}\)|)(?P<rest>.*)$",
                               re.DOTALL)


def _front_article(text: str) -> str:
    """Catalog-style titles with a trailing article ("English Patient, The (1996)") read naturally to an LLM
    as "The English Patient (1996)"; other text is unchanged."""
    m = _TRAILING_ARTICLE.match(str(text).strip())
    if not m:
        return str(text)
    return f"{m['art']} {m['head'].strip()}{m['tail']}{m['rest']}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:400]


DOMAIN_PRESETS: dict[str, dict[str, str]] = {
    "movies": {
        "base_template": _few_shot(
            "Tags for each movie: genre and subgenre, mood, themes, setting, audience. Comma separated.",
            "Movie",
            _MOVIE_SHOTS,
        ),
        "instruction": "Each line lists the tags of a movie a user watched, in order. "
        "Predict the tags of the next movie the user will watch.",
        "judge_template": "Movie: {item}\nTag: {tag}\nDoes the tag describe the movie? Answer Yes or No.\nAnswer:",
    },
    "products": {
        "base_template": _few_shot(
            "Tags describing each product: category, use, material, audience, style. Comma separated.",
            "Product",
            _PRODUCT_SHOTS,
        ),
        "instruction": "Each line lists the tags of a product a user bought, in order. "
        "Predict the tags of the next product the user will buy.",
        "judge_template": "Product: {item}\nTag: {tag}\nDoes the tag describe the product? Answer Yes or No.\nAnswer:",
    },
}
