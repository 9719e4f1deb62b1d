"""Which commands the words heard could begin (pure): the matcher's index.

Matching tries a command element by element, and a command whose spoken form begins
with a required literal ("open report", "(reload|refresh) page") is ruled out at once
unless the first words heard are like one of that literal's options: the test
captures.literal_steps makes first. LeadIndex makes that first test for every distinct
leading literal at once (rapidfuzz's cdist, in C), so that with thousands of commands
only the few whose first words fit are matched in full. Commands that begin otherwise
(a capture, optional words) are always tried. The test is the same or looser than the
matcher's, so the index never drops a command the matcher would take.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel

from agent.dispatch.captures import Tolerance
from agent.dispatch.grammar import Element, Literal

_FLOAT_SLACK = 1e-3
"""cdist scores in float32: a score at the floor may come back a hair below it."""
_CACHED = 4096
"""Distinct beginnings remembered (a chain or candidate search asks about the same
words several times); the cache is emptied when full."""


class LeadIndex:
    def __init__(self, compiled: Iterable[tuple[int, tuple[Element, ...]]]) -> None:
        """`compiled`: (id of the command, its compiled pattern) for every command."""
        self.free: set[int] = set()
        """Commands that do not begin with a required literal: always plausible."""
        by_words: dict[int, dict[str, tuple[list[int], list[float]]]] = {}
        for key, pattern in compiled:
            lead = pattern[0] if pattern else None
            if not isinstance(lead, Literal) or lead.optional:
                self.free.add(key)
                continue
            rest = _rest_weight(pattern[1:])
            for option in lead.options:
                keys, rests = by_words.setdefault(len(option), {}).setdefault(
                    "".join(option), ([], []))
                keys.append(key)
                rests.append(rest)
        self._groups = {k: _Group(list(found), [keys for keys, _ in found.values()],
                                  np.array([len(t) for t in found], float),
                                  np.array([max(r) for _, r in found.values()], float))
                        for k, found in by_words.items()}
        self._longest = max(by_words, default=0)
        self._cache: dict[tuple[tuple[str, ...], Tolerance, float], frozenset[int]] = {}

    def plausible(self, words: tuple[str, ...], tol: Tolerance, threshold: float
                  ) -> frozenset[int]:
        """Ids of the commands whose leading literal the beginning of `words` could be,
        under `tol`, with a score that could reach `threshold` (free ones not included)."""
        head = words[:self._longest + 1]
        key = (head, tol, threshold)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHED:
                self._cache.clear()
            found = self._cache[key] = self._lookup(head, tol, threshold)
        return found

    def _lookup(self, head: tuple[str, ...], tol: Tolerance, threshold: float
                ) -> frozenset[int]:
        out: set[int] = set()
        for k, g in self._groups.items():
            counts = range(max(1, k - 1), min(k + 1, len(head)) + 1)
            if not counts:
                continue
            heard = ["".join(head[:n]) for n in counts]
            scores = process.cdist(heard, g.targets, scorer=Indel.normalized_similarity,
                                   score_cutoff=min(tol.literal, tol.resplit) - _FLOAT_SLACK)
            # the whole score is at most the lead's weighted with the rest all alike
            reach = np.where(np.isinf(g.rest), -np.inf,
                             threshold - (1 - threshold) * np.minimum(g.rest, 1e9) / g.length)
            literal = np.where(g.length > 5, tol.literal, max(tol.literal, tol.short))
            ok = np.zeros(len(g.targets), bool)
            for row, n in enumerate(counts):
                step = literal if n == k else tol.resplit
                ok |= scores[row] >= np.maximum(step, reach) - _FLOAT_SLACK
            for i in np.flatnonzero(ok):
                out.update(g.keys[i])
        return frozenset(out)


@dataclass(frozen=True)
class _Group:
    """The leading options of one number of words."""

    targets: list[str]
    """Their letters."""
    keys: list[list[int]]
    """The commands each begins."""
    length: np.ndarray
    """len(target): its weight in the score."""
    rest: np.ndarray
    """The most weight the rest of those commands can add (inf with a key or chord)."""


def _rest_weight(rest: tuple[Element, ...]) -> float:
    """The most that the elements after the first can add to a match's weight: their
    longest options; a key or chord weighs what was heard, without bound."""
    weight = 0.0
    for e in rest:
        if isinstance(e, Literal):
            weight += max(len("".join(o)) for o in e.options)
        elif e.kind in ("key", "chord"):
            return math.inf
    return weight
