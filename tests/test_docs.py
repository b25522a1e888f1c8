"""The documentation holds together: every relative link in the README and
docs/ reaches a file that exists and, with an anchor, a heading of that page;
and the docs build as a site with mkdocs in strict mode."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [page for page in PAGES if "sdk-parsers/lab" not in page.as_posix()]  # lab notes, not docs
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """``text`` without its fenced code blocks, where a bracket is code, not a link."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """The anchor GitHub (and mkdocs) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(page: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(page.read_text(encoding="utf-8")).splitlines():
        if re.match(r"#{1,6} ", line):
            anchor = slug(line.lstrip("#"))
            n, candidate = 0, anchor
            while candidate in found:  # a repeated heading gets -1, -2, ...
                n += 1
                candidate = f"{anchor}-{n}"
            found.add(candidate)
    return found


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_reaches_a_file_and_its_heading(page):
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in headings(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_docs_build_as_a_site_in_strict_mode(tmp_path):
    """mkdocs.yml's nav names every page, and no page links to a missing heading."""
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "faults" / "index.html").exists() and (tmp_path / "index.html").exists()
    unlisted = [line for line in built.stderr.splitlines() if "not included in the \"nav\"" in line]
    assert not unlisted, unlisted
