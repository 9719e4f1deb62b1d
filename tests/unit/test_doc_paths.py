"""The docs hold together: every bench script the README, docs/, the Makefile and the
bench files name exists (the peer's setup.sh and requirements.txt named a
bench/live_bench.py that never did); the README stays a short quick start; and every
link between the README and docs/ leads to a file and heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"\bbench/[A-Za-z0-9_./-]+\.(?:py|sh|txt)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")
README_MAX_LINES = 250


def _docs() -> list[Path]:
    """The README and every page in docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _texts() -> list[Path]:
    bench = [p for p in (REPO / "bench").rglob("*") if p.is_file()
             and p.suffix in (".py", ".sh", ".txt") and ".peer-venv" not in p.parts]
    return [*_docs(), REPO / "Makefile", *bench]


def test_every_bench_file_named_exists() -> None:
    named = {(path.relative_to(REPO), ref) for path in _texts()
             for ref in NAMED.findall(path.read_text(encoding="utf-8"))}
    assert any(ref == "bench/live_latency.py" for _, ref in named)  # the scan finds names
    assert any(str(where).startswith("docs") for where, _ in named)  # docs/ is scanned
    missing = sorted(f"{where}: {ref}" for where, ref in named if not (REPO / ref).exists())
    assert missing == []


def test_the_readme_is_a_short_quick_start() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    headings = [line for line in lines if line.startswith("## ")]
    assert "## Quick start" in headings, headings


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces
    made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # a "# comment" in code
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_file():
            broken.append(f"{page.name}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_every_link_in_the_readme_and_docs_resolves() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    to_docs = [t for t in LINK.findall(readme) if t.startswith("docs/")]
    assert "docs/tray.png" in to_docs and len(to_docs) > 6, to_docs  # the scan finds links
    assert slug("First run: doctor, init, autostart") == "first-run-doctor-init-autostart"
    assert [link for page in _docs() for link in _broken_links(page)] == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {t.partition("#")[0] for t in LINK.findall(readme)}
    pages = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert pages and pages <= linked, sorted(pages - linked)


def test_the_tray_screenshot_is_a_small_png() -> None:
    shot = REPO / "docs" / "tray.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size < 100_000
