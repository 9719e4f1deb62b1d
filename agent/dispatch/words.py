"""The user's own words: a `[words]` table in command files, spoken form -> written form.

`"vox agent" = "voxagent"` types "voxagent" wherever dictation or a `<text>` capture
heard "Vox Agent": case aside, on whole words, with whatever the recogniser put between
the words ("Vox-agent", "vox, agent", "VoxAgent"); the longest spoken form is taken
first.  The forms also bias the recogniser's free-text decodes toward them
(Words.phrases).  A later file's entry for the same spoken form replaces an earlier one.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

log = logging.getLogger(__name__)

PROMPT_CHARS = 480
"""At most this many characters of words go into a recogniser's prompt (about 120
Whisper tokens, under its 200-token prompt), the newest entries kept."""

_SAYABLE = re.compile(r"[^\W_]+")
"""A run of letters or digits (any script): what can be said of a spoken form."""


@dataclass(frozen=True, slots=True)
class Word:
    """One entry of a [words] table."""

    spoken: str
    """As written in the file ("Vox Agent")."""
    written: str
    """What is typed instead ("voxagent")."""
    origin: str
    """"path:line" where it is defined."""
    key: str = field(init=False, compare=False)
    """The spoken form's words, lower case: entries with the same key are the same."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", spoken_key(self.spoken))


_AS = re.compile(r"\s+as\s+", re.IGNORECASE)
_ENDS = " \t.,;:!?\"'“”‘’"


def said_word(text: str) -> tuple[str, str]:
    """(spoken, written) of what followed "add word": split at the last " as " ("vox
    agent as voxagent"); without one, the words stand for themselves (a hint to the
    recogniser, and their spelling)."""
    parts = _AS.split(text.strip())
    spoken = " as ".join(parts[:-1]) if len(parts) > 1 else parts[0]
    return spoken.strip(_ENDS), parts[-1].strip(_ENDS)


def spoken_key(spoken: str) -> str:
    """The sayable words of `spoken`, lower case, joined by single spaces."""
    return " ".join(_SAYABLE.findall(spoken.casefold()))


def shown(text: str) -> str:
    """A form as a message shows it: quoted, control characters escaped ('new\\nline')."""
    return repr(text)


def _unprintable(text: str) -> bool:
    """Control or format characters (a newline would press Return; a bidi override
    hides what is typed)."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text)


def parse_words(table: Any, path: object, line_of: Callable[..., int], has_context: bool,
                problems: list[tuple[int, str]]) -> list[Word]:
    """The entries of `path`'s [words] table; each bad entry adds (line, what is wrong)
    to `problems` and is left out."""
    if not isinstance(table, dict):
        problems.append((line_of("words"), "'words' must be a table [words]"))
        return []
    if has_context:
        problems.append((line_of("words"), "[words] apply in every mode and window: "
                         "put them in a file without [context]"))
        return []
    out: list[Word] = []
    seen: dict[str, tuple[str, int]] = {}
    for spoken, written in table.items():
        line = line_of("words", spoken)
        why = wrong_entry(spoken, written)
        if not why and spoken_key(spoken) in seen:
            first, at = seen[spoken_key(spoken)]
            why = f"{shown(first)} (line {at}) is the same spoken form"
        if why:
            problems.append((line, f"word {shown(spoken)}: {why}"))
            continue
        seen[spoken_key(spoken)] = (spoken, line)
        out.append(Word(spoken, written, f"{path}:{line}"))
    return out


def wrong_entry(spoken: str, written: Any) -> str:
    """What is wrong with one entry, or ""."""
    if not isinstance(written, str):
        return f"the written form must be a string, got {type(written).__name__} {written!r}"
    if not spoken.strip():
        return "empty spoken form"
    if not written.strip():
        return "empty written form"
    if _unprintable(spoken) or _unprintable(written):
        return "control characters are not allowed (typed text never presses Return)"
    if not spoken_key(spoken):
        return "the spoken form has no letters or digits to say"
    return ""


def replaced(files: Iterable[Iterable[object]]) -> list[tuple[Word, Word]]:
    """(earlier, later) for each spoken form defined again in a later file (the later
    one wins), in the order of the files."""
    table: dict[str, Word] = {}
    out: list[tuple[Word, Word]] = []
    for entries in files:
        for w in entries:
            if isinstance(w, Word):
                if w.key in table:
                    out.append((table[w.key], w))
                table[w.key] = w
    return out


def replaced_message(earlier: Word, later: Word, ours: Word) -> str:
    """One line about a spoken form in two files, from `ours`'s side: which one wins."""
    other = earlier if ours is later else later
    wins = "this one wins" if ours is later else f"that one wins ({other.written!r})"
    return (f"{ours.origin}: word {shown(ours.spoken)} is also defined at {other.origin}; "
            f"{wins}, as the later file")


class Words:
    """The active words: applied to typed free text, and listed to bias recognition."""

    def __init__(self, entries: Iterable[Word] = ()) -> None:
        table: dict[str, Word] = {}
        for w in entries:
            table.pop(w.key, None)
            table[w.key] = w  # a later file's entry replaces the earlier one
        self.entries = tuple(table.values())
        self._glued: dict[str, list[tuple[frozenset[int], Word]]] = {}
        """Spoken forms by their letters run together ("voxagent"), longest form first,
        with where its words meet (3): the recogniser may write any of them together."""
        for w in sorted(self.entries, key=lambda w: -len(w.key)):
            parts = w.key.split(" ")
            meets = frozenset(accumulate(len(p) for p in parts[:-1]))
            self._glued.setdefault("".join(parts), []).append((meets, w))
        self._most = max((len(w.key.split(" ")) for w in self.entries), default=0)
        self.phrases = _phrases(self.entries)
        """Written then spoken forms, newest last, bounded (PROMPT_CHARS): the prompt of
        free-text decodes (agent/decide/)."""

    @classmethod
    def of(cls, files: Iterable[Iterable[object]]) -> Words:
        """The words of the command files' entries, in load order (Words among others)."""
        return cls(w for entries in files for w in entries if isinstance(w, Word))

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, text: str) -> str:
        """`text` with each spoken form heard in it replaced by its written form: from
        each word on, the most words that spell a spoken form, whatever is between them
        (punctuation, spaces, nothing)."""
        if not self._glued:
            return text
        runs = [(m.start(), m.end(), m.group().casefold()) for m in _SAYABLE.finditer(text)]
        out: list[str] = []
        at = i = 0
        while i < len(runs):
            found = self._longest(runs, i)
            if found is None:
                i += 1
                continue
            n, word = found
            out += [text[at:runs[i][0]], word.written]
            at, i = runs[i + n - 1][1], i + n
        return "".join(out) + text[at:]

    def _longest(self, runs: list[tuple[int, int, str]], i: int) -> tuple[int, Word] | None:
        """The most runs from `i` on that spell a spoken form, meeting only where its
        words meet, and that form; None when none does."""
        for n in range(min(self._most, len(runs) - i), 0, -1):
            taken = [r[2] for r in runs[i:i + n]]
            meets = set(accumulate(len(t) for t in taken[:-1]))
            for where, word in self._glued.get("".join(taken), ()):
                if meets <= where:
                    return n, word
        return None

    def captures(self, caps: Mapping[str, str | int]) -> dict[str, str | int]:
        """A match's captures with the words applied to its free text (`<text>`)."""
        out = dict(caps)
        if self._glued and isinstance(out.get("text"), str):
            out["text"] = self.apply(str(out["text"]))
        return out


def _phrases(entries: tuple[Word, ...]) -> tuple[str, ...]:
    out: list[str] = []
    size = 0
    for w in reversed(entries):
        forms = [w.written] + ([w.spoken] if spoken_key(w.written) != w.key else [])
        size += sum(len(f) + 2 for f in forms)
        if size > PROMPT_CHARS:
            break
        out[:0] = forms
    return tuple(dict.fromkeys(out))
