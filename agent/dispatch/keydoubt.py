"""Key commands whose key may have been misheard: what to score against the audio (pure).

A letter, digit or F-key said on its own is where a recogniser slips in a way that costs
the most: "press control shift t" heard as ctrl+shift+d presses a real chord nobody asked
for.  For such a key (agent/dispatch/vocabulary.py CONFUSABLE_KEYS) this module writes
what was heard once per confusable key, each key written in the recogniser's own style
("Press control shift T.", "... D."), so the decide stage can ask the hearing which one
the audio holds (agent/decide/keys.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.dispatch.matcher import Match
from agent.dispatch.normalize import normalize
from agent.dispatch.vocabulary import NATO, canonical_chord, confusable_keys, written_keys

_KEY_LEADS = re.compile(r"(?i)(letter|digit|number)\W+")
"""Words before a key that name its kind ("letter t"): kept as heard."""


@dataclass(frozen=True, slots=True)
class KeyChoices:
    """A key command as heard and with each confusable key in place of its key."""

    chords: tuple[str, ...]
    """The chord heard first, then each confusable one ("ctrl+shift+d", "ctrl+shift+t")."""
    texts: tuple[tuple[str, ...], ...]
    """For each chord, what was heard with its key written in the same place, in each
    form a recogniser writes it ("Press control shift T.", "Press control shift tee."):
    as many forms for each chord, in the same order."""


def key_choices(heard: str, chain: list[Match]) -> KeyChoices | None:
    """The choices for the first command of `chain` (matched on `heard`) whose key may
    have been misheard; None when no key is in doubt (named keys, the spelling alphabet,
    keys nothing sounds like)."""
    for m in chain:
        chord = m.captures.get("chord", m.captures.get("key"))
        if m.key_span is None or chord is None:
            continue
        *mods, key = str(chord).split("+")
        others = confusable_keys(key)
        start, end = m.key_span
        if lead := _KEY_LEADS.match(heard, start, end):
            start = lead.end()
        words = normalize(heard[start:end]).split()
        if not others or not words or words[-1] in NATO:
            continue
        keys = (key, *others)
        forms = [written_keys(k) for k in keys]
        if len({len(f) for f in forms}) > 1:  # scores are summed over the forms
            forms = [f[:1] for f in forms]
        return KeyChoices(tuple(canonical_chord([*mods, k]) for k in keys),
                          tuple(tuple(heard[:start] + w + heard[end:] for w in f)
                                for f in forms))
    return None
