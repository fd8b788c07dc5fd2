"""Personal names as the population registry (常住人口登记) holds them.

The registry writes a name in Chinese characters without spaces; names of several
parts, as many ethnic-minority names are, separate the parts with U+00B7 MIDDLE DOT
``·`` (the 间隔号 of GB/T 15834-2011, as printed on ID cards). Users type the
separator as whatever their keyboard offers (``.`` ``•`` ``・`` ``．`` ``‧`` ``。``
and others), often add spaces, or write the name in traditional characters.
:func:`normalise` repairs what is safe to repair; :func:`variants` lists the other
spellings a registry might hold, so that a mismatch can be retried and reported as
NAME_CHARACTER_VARIANT; :func:`validate` rejects what no registry name can contain.

Limits (chosen here, documented for callers): 1 to :data:`MAX_LENGTH` characters
after normalisation, counting separators; only Han characters and ``·``.

>>> normalise(' 阿依古丽 . 买买提 ')
'阿依古丽·买买提'
>>> variants('張學友')
['张学友']
>>> mask('欧阳小明')
'欧**明'
"""

from __future__ import annotations

import functools
import re
import unicodedata

import opencc

from realname.identity.errors import NameInvalid

__all__ = [
    "MAX_LENGTH",
    "SEPARATOR",
    "SEPARATORS",
    "is_valid",
    "mask",
    "normalise",
    "validate",
    "variants",
]

#: The separator the registry writes.
SEPARATOR = "\u00b7"

#: Characters users type for the separator. Full stops and middle dots from every
#: script a Chinese input method offers, the bullets of symbol palettes, and the
#: ideographic full stop 。 that a Chinese IME produces for the "." key.
SEPARATORS = frozenset(
    "\u002e"  # . FULL STOP
    "\u00b7"  # · MIDDLE DOT (the target)
    "\u0387"  # · GREEK ANO TELEIA (NFKC maps it to U+00B7 as well)
    "\u1427"  # ᐧ CANADIAN SYLLABICS FINAL MIDDLE DOT
    "\u2022"  # • BULLET
    "\u2024"  # ․ ONE DOT LEADER
    "\u2027"  # ‧ HYPHENATION POINT (common in Taiwan input methods)
    "\u2219"  # ∙ BULLET OPERATOR
    "\u22c5"  # ⋅ DOT OPERATOR
    "\u25cf"  # ● BLACK CIRCLE
    "\u2981"  # ⦁ Z NOTATION SPOT
    "\u2e31"  # ⸱ WORD SEPARATOR MIDDLE DOT
    "\u3002"  # 。 IDEOGRAPHIC FULL STOP
    "\u30fb"  # ・ KATAKANA MIDDLE DOT (Japanese and some Chinese IMEs)
    "\u318d"  # ㆍ HANGUL LETTER ARAEA (Korean IME's middle dot)
    "\ua78f"  # ꞏ LATIN LETTER SINOLOGICAL DOT
    "\ufe52"  # ﹒ SMALL FULL STOP
    "\uff0e"  # ． FULLWIDTH FULL STOP
    "\uff61"  # ｡ HALFWIDTH IDEOGRAPHIC FULL STOP
    "\uff65"  # ･ HALFWIDTH KATAKANA MIDDLE DOT
)
_TO_SEPARATOR = {ord(c): SEPARATOR for c in SEPARATORS}

#: Invisible characters that pasting from documents and chat apps leaves behind.
#: They carry no meaning in a name, so they are dropped rather than rejected.
_INVISIBLE = {ord(c): None for c in "\u200b\u200c\u200d\u2060\ufeff\u00ad"}

#: Longest name accepted, separators included. The registry's own limit is not
#: published; 30 covers long transliterated names while keeping free text out.
MAX_LENGTH = 30

_SEPARATOR_RUNS = re.compile(f"{SEPARATOR}+")


def _is_han(char: str) -> bool:
    # Python's unicodedata has no Script property and lags Unicode (3.11 ships
    # Unicode 14, without CJK Extensions H and I), so the Han blocks are listed here.
    # Planes 2 and 3 are reserved by Unicode for CJK ideographs, so accepting them
    # whole keeps future extensions (which hold many rare surname characters) working.
    cp = ord(char)
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= cp <= 0x4DBF  # Extension A
        or 0xF900 <= cp <= 0xFAFF  # Compatibility Ideographs NFKC leaves unchanged
        or 0x20000 <= cp <= 0x3FFFF  # Extensions B to I and beyond (SIP, TIP)
    )


def normalise(name: str) -> str:
    """Bring a name to the registry's form without changing any character of it.

    Applies Unicode NFKC (full-width forms, compatibility ideographs, Kangxi radicals),
    drops all whitespace and invisible characters (registry names have no spaces
    between Han characters), turns every separator in :data:`SEPARATORS` into ``·``,
    collapses repeated separators and removes them at either end. Idempotent.
    """
    # Separators are mapped before NFKC as well as after, because NFKC turns some of
    # them (U+318D) into characters that are no longer recognisable as a dot. NFKC runs
    # again once spaces are gone, since dropping a space can bring a letter next to a
    # combining mark it then composes with; without that, normalise would not be
    # idempotent.
    name = unicodedata.normalize("NFKC", name.translate(_TO_SEPARATOR))
    name = "".join(name.split()).translate(_INVISIBLE)
    name = unicodedata.normalize("NFKC", name).translate(_TO_SEPARATOR)
    return _SEPARATOR_RUNS.sub(SEPARATOR, name).strip(SEPARATOR)


def _classify(name: str) -> NameInvalid | None:
    """The first reason the normalised ``name`` cannot be a registry name."""
    if not name:
        return NameInvalid("empty")
    if len(name) > MAX_LENGTH:
        return NameInvalid("too_long")
    han = latin = other_letters = False
    forbidden = False
    for char in name:
        if char == SEPARATOR:
            continue
        if _is_han(char):
            han = True
            continue
        category = unicodedata.category(char)
        if category[0] == "C":
            # Control, format, private-use and unassigned code points. Private-use
            # characters are refused too: some local systems once encoded rare
            # characters there, but no two systems agree on them.
            return NameInvalid("control_character")
        if category[0] == "N":
            return NameInvalid("digits")
        if category[0] == "L":
            if unicodedata.name(char, "").startswith("LATIN "):
                latin = True
            else:
                other_letters = True
        else:
            forbidden = True  # punctuation, symbols (emoji), combining marks
    if forbidden:
        return NameInvalid("forbidden_character")
    if han and (latin or other_letters):
        return NameInvalid("mixed_script")
    # Names in Latin letters are refused even though foreigners' permanent-residence
    # cards carry them: realname verifies against the population registry, which holds
    # every resident's and every Hong Kong, Macao or Taiwan permit holder's name in
    # Chinese characters, so a Latin name can never match there.
    if latin and not other_letters:
        return NameInvalid("latin_script")
    if latin or other_letters:
        return NameInvalid("non_han_script")
    return None


def validate(name: str) -> str:
    """Return the normalised name, or raise :class:`NameInvalid` with a ``reason``.

    Accepted: 1 to :data:`MAX_LENGTH` characters, all Han, optionally with ``·``
    between parts (after :func:`normalise`, so typed separators and spaces are fine).
    """
    normalised = normalise(name)
    error = _classify(normalised)
    if error is not None:
        raise error
    return normalised


def is_valid(name: str) -> bool:
    """Whether :func:`validate` accepts the name."""
    return _classify(normalise(name)) is None


@functools.cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def _to_simplified(name: str) -> list[str]:
    # t2s follows OpenCC's generic traditional standard; tw2s and hk2s also know the
    # regional variant characters of Taiwan and Hong Kong (for example 着 vs 著), which
    # is where permit holders' input comes from.
    return [_converter(config).convert(name) for config in ("t2s", "tw2s", "hk2s")]


def variants(name: str) -> list[str]:
    """Other spellings of ``name`` that the registry might hold, most likely first.

    In order: the normalised name; its simplified forms (OpenCC ``t2s``, ``tw2s``,
    ``hk2s``); and, when the input separates Han runs with spaces, the same with
    ``·`` in place of the spaces (a minority name typed with a space) and its
    simplified forms. Only valid names are returned, each once, and never ``name``
    itself. Conversion is by character and phrase tables, so a variant is a candidate
    to try, not a correction: 於 is a surname of its own, and t2s turns it into 于.
    """
    base = normalise(name)
    candidates = [base, *_to_simplified(base)]
    parts = name.split()
    if len(parts) > 1:
        spaced = normalise(SEPARATOR.join(parts))
        candidates += [spaced, *_to_simplified(spaced)]
    result: list[str] = []
    for candidate in candidates:
        if candidate != name and candidate not in result and is_valid(candidate):
            result.append(candidate)
    return result


def mask(name: str) -> str:
    """Mask a name for display per JR/T 0171-2020 practice.

    Of the name's characters (separators not counted) the first stays and, when there
    are three or more, the last: 王*明, 王*, 欧**明, 阿***·**提. Separators stay in
    place, since they reveal only that the name has parts. A value that is not a valid
    name is masked entirely.
    """
    normalised = normalise(name)
    if _classify(normalised) is not None:
        return "*" * len(normalised)
    letters = [i for i, char in enumerate(normalised) if char != SEPARATOR]
    keep = {letters[0]} if len(letters) >= 2 else set()
    if len(letters) >= 3:
        keep.add(letters[-1])
    return "".join(
        char if char == SEPARATOR or i in keep else "*" for i, char in enumerate(normalised)
    )
