"""Every bench script the README, the Makefile and the bench files name exists (the peer's
setup.sh and requirements.txt named a bench/live_bench.py that never did)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"\bbench/[A-Za-z0-9_./-]+\.(?:py|sh|txt)\b")


def _texts() -> list[Path]:
    bench = [p for p in (REPO / "bench").rglob("*") if p.is_file()
             and p.suffix in (".py", ".sh", ".txt") and ".peer-venv" not in p.parts]
    return [REPO / "README.md", REPO / "Makefile", *bench]


def test_every_bench_file_named_exists() -> None:
    named = {(path.relative_to(REPO), ref) for path in _texts()
             for ref in NAMED.findall(path.read_text(encoding="utf-8"))}
    assert any(ref == "bench/live_latency.py" for _, ref in named)  # the scan finds names
    missing = sorted(f"{where}: {ref}" for where, ref in named if not (REPO / ref).exists())
    assert missing == []
