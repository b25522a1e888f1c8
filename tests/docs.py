"""Where the tests find the examples the documentation shows: the README and
the pages under docs/, read as one. A marker names a line of exactly one page,
so a section can move between pages without its tests noticing. In a block,
``…`` stands for text that differs from run to run (ids, times, paddings); a
line that is only ``…`` stands for any number of lines (``shows``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def page_with(marker: str) -> str:
    """The text of the one page that holds ``marker``."""
    found = [page for page in PAGES if marker in page.read_text(encoding="utf-8")]
    assert len(found) == 1, f"{marker!r} is in {len(found)} pages of the docs, not 1: {found}"
    return found[0].read_text(encoding="utf-8")


def block_after(marker: str, language: str = "text") -> str:
    """The first fenced block of ``language`` after the line ``marker``."""
    found = re.search(rf"```{language}\n(.*?)```", page_with(marker).split(marker, 1)[1], re.DOTALL)
    assert found, f"no ```{language} block after {marker!r}"
    return found[1]


def section(heading: str) -> str:
    """The text under ``heading`` (a whole line, ``## Scenarios``) up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    text = page_with(f"\n{heading}\n").split(f"\n{heading}\n", 1)[1]
    ends = re.search(rf"^#{{1,{level}}} ", text, re.MULTILINE)
    return text[: ends.start()] if ends else text


def _line_pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, line.split("…"))))


def shows(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is what ``expected`` shows, elisions and all."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "…":
        return any(shows(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and bool(_line_pattern(head).fullmatch(actual[0])) and shows(rest, actual[1:])
