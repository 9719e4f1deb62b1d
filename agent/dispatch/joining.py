"""Text that joins up: how one utterance's words are typed after what was typed before.

Pure rules on strings (docs/commands.md says them for people):
- spacing: one space between utterances; none before closing punctuation (", . ; : ! ? )"),
  none after an opening bracket, a newline or a space already typed;
- capitals: Whisper writes every utterance as if it began a sentence. After a sentence
  end (". ! ?" or a newline) the first letter is a capital (with nothing known before,
  as at the start, it is left as heard: `type hello` types "hello");
  mid-sentence it is made lower case, unless the word is always written with one ("I",
  "I'm", days, months) or looks like a name or acronym that can be told safely (a capital
  past its first letter: "NASA", "OpenAI", "McDonald");
- full stops: the model ends nearly every utterance with "." even when the speaker paused
  mid-sentence. The stop is kept only when the utterance reads as a sentence: it is dropped
  when the last word cannot end an English sentence ("and", "the", "to", "I", "should",
  "think", ... see CONTINUES) and a trailing "..." (trailing off) is dropped always. So
  "So I think." + "We should go." types "So I think we should go.". "?" and "!" stay.
- spoken modifiers: "no space" (before words: joined without the space; alone: the next
  utterance is), "cap <word>" (that word capitalised), "all caps <words>" (upper case to
  the next punctuation or the end).
"""

from __future__ import annotations

import re

SENTENCE_ENDS = ".!?"
"""A character that ends a sentence (closing quotes and brackets after it are skipped)."""
_CLOSERS = "\"')]}\u2019\u201d"
NO_SPACE_BEFORE = ",.;:!?)]}%\u2026"
"""A piece starting with one of these joins the text before it without a space."""
NO_SPACE_AFTER = " \n\t([{\u201c\u2018/"
"""After one of these (already typed) no space is added."""


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


ALWAYS_CAPITAL = _wordset(
    "i i'm i'll i've i'd monday tuesday wednesday thursday friday saturday sunday "
    "january february march april june july august september october november december "
    "english")
"""Words written with a capital wherever they stand (lower case, as compared). "May" is
left out: mid-sentence it is more often the verb."""

CONTINUES = _wordset(
    # conjunctions, articles, prepositions, possessives, subject pronouns
    "and or but so because if that than as when while although though since unless until "
    "whether nor a an the to of in on at for with from by about into onto over under "
    "through between without like after before my your our their his its i we they he she "
    # auxiliaries and modals
    "is are was were am be been being will would should could can may might must shall "
    "have has had do does did "
    # verbs that take what follows as their object ("I think ... we should go")
    "think guess believe hope suppose mean wonder wish want")
"""Last words after which an utterance is a fragment: the model's full stop there is
dropped (the next utterance goes on the sentence)."""

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_NO_SPACE = re.compile(r"^\s*no[\s,]+space\b[\s,.;:!?-]*", re.IGNORECASE)
_ALL_CAPS = re.compile(r"\ball[\s,]+caps?\b[\s,]*([^,.;:!?]+)", re.IGNORECASE)
_CAP = re.compile(r"\bcap\b[\s,]+([A-Za-z][\w'-]*)", re.IGNORECASE)


def sentence_ended(before: str) -> bool:
    """Whether text typed after `before` starts a sentence: `before` is unknown or empty,
    ends a line, or ends with . ! ? (closing quotes or brackets after it allowed)."""
    if not before or before.endswith("\n"):
        return True
    stripped = before.rstrip(" \t").rstrip(_CLOSERS)
    return not stripped or stripped[-1] in SENTENCE_ENDS or stripped.endswith("\n")


def keeps_capital(word: str) -> bool:
    """Whether `word` is written with its capital mid-sentence: always-capital words and
    names or acronyms told by a capital past the first letter ("NASA", "OpenAI")."""
    return word.lower() in ALWAYS_CAPITAL or any(c.isupper() for c in word[1:])


def cased(text: str, before: str) -> str:
    """`text` with its first word's capital fixed for where it goes, after `before`."""
    m = _WORD.search(text)
    if m is None or not before or text[:m.start()].strip(" \"'(\u201c\u2018"):
        return text  # nothing known before, or starts with a number or a mark: as heard
    word = m.group()
    if sentence_ended(before):
        if word.islower():
            word = word[0].upper() + word[1:]
    elif word[0].isupper() and not keeps_capital(word):
        word = word[0].lower() + word[1:]
    return text[:m.start()] + word + text[m.end():]


def settle_stop(text: str) -> str:
    """`text` without the model's full stop when it is a fragment (see CONTINUES), and
    without a trailing "..." or "\u2026"; "?" and "!" are kept."""
    trimmed = text.rstrip()
    if trimmed.endswith(("...", "\u2026")):
        return trimmed.rstrip(".\u2026").rstrip()
    if trimmed.endswith(".") and not trimmed.endswith(".."):
        words = _WORD.findall(trimmed)
        if words and words[-1].lower() in CONTINUES:
            return trimmed[:-1].rstrip()
    return trimmed


def spaced(text: str, before: str, space: bool = True) -> str:
    """`text` with the one space it needs after `before` (none when `space` is False)."""
    if not space or not before or not text or before[-1] in NO_SPACE_AFTER \
            or text[0] in NO_SPACE_BEFORE or text[0].isspace():
        return text
    return " " + text


def modified(text: str) -> str:
    """`text` with the spoken modifiers "all caps <words>" and "cap <word>" applied (the
    modifier words themselves dropped)."""
    text = _ALL_CAPS.sub(lambda m: m.group(1).upper(), text)
    return _CAP.sub(lambda m: m.group(1)[0].upper() + m.group(1)[1:], text)


def no_space(text: str) -> tuple[str, bool]:
    """(`text` without a leading spoken "no space", whether it had one)."""
    m = _NO_SPACE.match(text)
    return (text[m.end():], True) if m else (text, False)


def joined(text: str, before: str, space: bool = True) -> str:
    """What to type for one utterance's `text` after `before` (what was typed last in this
    field; "" when unknown): the full-stop, capital, modifier and spacing rules above."""
    text = modified(cased(settle_stop(text.strip()), before))
    return spaced(text, before, space)
