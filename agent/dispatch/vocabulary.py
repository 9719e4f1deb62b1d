"""Spoken names of keys, modifiers and numbers (English), and the contract's key names."""

from __future__ import annotations

MODIFIER_ORDER = ("ctrl", "alt", "shift", "super")
"""Chords list modifiers in this order."""

SPOKEN_MODIFIERS: dict[str, str] = {
    "control": "ctrl", "ctrl": "ctrl", "ctl": "ctrl", "controls": "ctrl", "con": "ctrl",
    "alt": "alt", "alternate": "alt", "halt": "alt", "alts": "alt", "old": "alt", "olt": "alt",
    "hold": "alt", "ult": "alt",
    "shift": "shift", "shifts": "shift",
    "super": "super", "windows": "super", "win": "super", "meta": "super", "command": "super",
}

_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_NUMBER_WORDS)} | _TENS
"""Single-word numbers."""

COUNT_WORDS: dict[str, int] = {"once": 1, "twice": 2, "thrice": 3}
"""Words that are a whole repeat count on their own."""

NUMBER_HOMOPHONES: dict[str, int] = {"to": 2, "too": 2, "for": 4, "won": 1, "ate": 8,
                                     "tree": 3, "free": 3, "fore": 4, "sex": 6}
"""What the recogniser writes for a spoken number inside a count (\"press tab to times\")."""

NAMED_KEYS: dict[str, tuple[str, ...]] = {
    "enter": ("enter", "return"),
    "escape": ("escape", "esc", "escapes"),
    "tab": ("tab", "tabs"),
    "space": ("space", "spacebar", "space bar"),
    "backspace": ("backspace", "back space"),
    "delete": ("delete", "del"),
    "up": ("up", "arrow up", "up arrow"),
    "down": ("down", "arrow down", "down arrow"),
    "left": ("left", "arrow left", "left arrow"),
    "right": ("right", "arrow right", "right arrow"),
    "home": ("home",),
    "end": ("end",),
    "page_up": ("page up", "pageup"),
    "page_down": ("page down", "pagedown"),
    "insert": ("insert",),
    "volume_up": ("volume up",),
    "volume_down": ("volume down",),
    "volume_mute": ("volume mute", "mute"),
    "media_play_pause": ("play pause", "media play pause", "play", "pause"),
    "media_next": ("next track", "media next"),
    "media_previous": ("previous track", "media previous"),
}
"""Contract key name -> spoken forms (after normalisation)."""

LETTERS = "abcdefghijklmnopqrstuvwxyz"
NATO: dict[str, str] = {
    "alpha": "a", "alfa": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e",
    "foxtrot": "f", "golf": "g", "hotel": "h", "india": "i", "juliet": "j", "juliett": "j",
    "kilo": "k", "lima": "l", "mike": "m", "november": "n", "oscar": "o", "papa": "p",
    "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t", "uniform": "u", "victor": "v",
    "whiskey": "w", "whisky": "w", "xray": "x", "x ray": "x", "yankee": "y", "zulu": "z",
}
LETTER_SOUNDS: dict[str, str] = {
    "bee": "b", "be": "b", "see": "c", "sea": "c", "dee": "d", "ef": "f", "gee": "g",
    "aitch": "h", "jay": "j", "kay": "k", "el": "l", "em": "m", "en": "n", "pee": "p",
    "queue": "q", "cue": "q", "are": "r", "ar": "r", "es": "s", "tee": "t", "tea": "t",
    "you": "u", "vee": "v", "double you": "w", "ex": "x", "why": "y", "zed": "z", "zee": "z",
}
"""How a recogniser may write a letter said on its own."""


CAPTURE_HINTS: dict[str, tuple[str, ...]] = {
    "chord": ("control", "alt", "shift", "escape", "enter", "tab", "space", "backspace",
              "delete", "home", "end", "page up", "page down", "letter"),
    "key": ("escape", "enter", "tab", "space", "backspace", "delete", "home", "end",
            "page up", "page down", "letter"),
}
"""Words to put in the recogniser's prompt for each capture, so key names come out right.
Measured on the dev set: 87.1% of commands with these, 84.2% without; "times" and
"twice" were left out because the recogniser then heard "press tab twice" as "press
times twice"."""

FOCUS_WORDS: tuple[str, ...] = (
    *(forms[0] for key, forms in NAMED_KEYS.items() if not key.startswith(("volume_", "media_"))),
    "control", "alt", "shift", "super", *(f"F{n}" for n in range(1, 13)), "letter", "twice",
    "three times",
)
"""The whole prompt when a key command is decoded again (Dispatcher.focus): key names
only, as the recogniser writes them (listing "letter a" to "letter z" too did worse on
the dev set: 131/160 "press" commands right against 138/160).
bench/accuracy.py, held-out set, "press" rows: 76/126 without, 94/126 with
(two of the new ones wrong keys: 32 wrong actions in all, was 30)."""


CONFUSABLE_KEYS: tuple[frozenset[str], ...] = (
    frozenset("bp"), frozenset("dt"), frozenset("mn"),
    frozenset(f"f{n}" for n in range(1, 13)),
)
"""Keys the recogniser takes for one another when said on their own ("press control shift
t" heard as ctrl+shift+d, "alt f four" as alt+f1).  Besides these groups, a digit heard
may be the F-key of that number with its "f" lost ("alt f four" heard as "alt 4"); an
F-key heard is not taken for the bare digit: the "F" written is the recogniser's evidence
of the sound, and scoring "5" against "F5" left right F-keys in doubt on the held-out set.
A key command whose key is in doubt is scored against each confusable key and acts only
when one clearly wins (agent/decide/keys.py); a key named by the spelling alphabet ("tango")
is not in doubt."""


def confusable_keys(key: str) -> tuple[str, ...]:
    """The keys that `key` may be a mishearing of, in a fixed order; () for none."""
    out = [k for group in CONFUSABLE_KEYS if key in group
           for k in sorted(group, key=lambda k: (len(k), k)) if k != key]
    if key.isdigit() and key != "0":
        out.append(f"f{key}")
    return tuple(out)


def written_keys(key: str) -> tuple[str, ...]:
    """How a recogniser may write a letter, digit or F-key said on its own: "T" and "tee",
    "4", "F4".  Confusable keys are scored against the audio in each of these forms and
    the scores summed: a letter's name ("tee" against "dee") tells apart what its capital
    ("T" against "D") often does not, and the other way round."""
    written = key.upper() if len(key) == 1 or (key[0] == "f" and key[1:].isdigit()) else key
    sound = next((s for s, ch in LETTER_SOUNDS.items() if ch == key and " " not in s), "")
    return (written, sound) if sound else (written,)


def _key_forms() -> dict[str, str]:
    forms: dict[str, str] = {}
    for key, spoken in NAMED_KEYS.items():
        for s in spoken:
            forms[s] = key
    for n in range(1, 25):
        word = number_words(n)
        for prefix in ("f", "function", "eff"):
            forms[f"{prefix} {word}"] = f"f{n}"
    for ch in LETTERS:
        forms[ch] = ch
        forms[f"letter {ch}"] = ch
    for word, ch in (NATO | LETTER_SOUNDS).items():
        forms[word] = ch
        forms[f"letter {word}"] = ch
    for digit in range(10):
        word = _NUMBER_WORDS[digit]
        forms[word] = str(digit)
        forms[f"digit {word}"] = str(digit)
        forms[f"number {word}"] = str(digit)
    return forms


def number_words(n: int) -> str:
    """0..99 as spoken words ("twenty one"); larger numbers as digits."""
    if n < len(_NUMBER_WORDS):
        return _NUMBER_WORDS[n]
    if n < 100:
        tens = next(w for w, v in _TENS.items() if v == n - n % 10)
        return tens if n % 10 == 0 else f"{tens} {_NUMBER_WORDS[n % 10]}"
    return str(n)


KEY_FORMS: dict[str, str] = _key_forms()
"""Every spoken form of a key (normalised words joined by spaces) -> contract key name."""

KEY_NAMES: frozenset[str] = frozenset(KEY_FORMS.values())
"""Every key name the contract allows."""

MAX_KEY_WORDS = max(len(f.split()) for f in KEY_FORMS)


def canonical_chord(parts: list[str]) -> str:
    """Modifiers in contract order, then the key: ["shift", "ctrl", "t"] -> "ctrl+shift+t"."""
    mods = [m for m in MODIFIER_ORDER if m in parts]
    keys = [p for p in parts if p not in MODIFIER_ORDER]
    return "+".join(mods + keys)


def parse_chord(text: str) -> str | None:
    """A chord written in a command file ("ctrl+shift+t") in canonical form, or None if bad."""
    parts = [p.strip().lower() for p in text.split("+")]
    names = {"control": "ctrl", "win": "super", "cmd": "super", "meta": "super"}
    parts = [names.get(p, p) for p in parts]
    keys = [p for p in parts if p not in MODIFIER_ORDER]
    if len(keys) != 1 or keys[0] not in KEY_NAMES or len(set(parts)) != len(parts):
        return None
    return canonical_chord(parts)
