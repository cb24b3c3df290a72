"""The mirror transformation: case swap per character, then reversal; the length never changes."""

from __future__ import annotations

import pytest

from mirror_service.transform import mirror


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("fOoBar25", "52RAbOoF"),  # the example
        ("a", "A"),
        ("Z", "z"),
        ("123 !?", "?! 321"),  # non-letters stay, order reverses
        ("AbC dEf", "FeD cBa"),
        ("héLLo", "OllÉH"),  # Latin-1 letters swap too
        ("Ωmega", "AGEMω"),  # Greek
        ("Привет", "ТЕВИРп"),  # Cyrillic
        ("日本語", "語本日"),  # no case: unchanged, reversed
        ("ß", "ß"),  # 'ß'.swapcase() is 'SS' (2 characters): stays as it is
        ("straße", "EßARTS"),
        ("İ", "İ"),  # 'İ'.swapcase() is 'i̇' (2 code points): stays
        ("ŉ", "ŉ"),  # 'ŉ'.swapcase() is 'ʼN': stays
        ("ǅ", "ǅ"),  # title-case digraph: neither upper nor lower, stays
        ("ς", "Σ"),  # final sigma has a one-character upper case
        ("e\u0301", "\u0301E"),  # reversal is by code point: the combining accent moves first
        ("😀a", "A😀"),  # astral characters are single code points in Python
        ("\x00\t", "\t\x00"),  # control characters are characters like any other
    ],
)
def test_mirror(word: str, expected: str) -> None:
    assert mirror(word) == expected


@pytest.mark.parametrize("word", ["ß" * 10, "İstanbul", "ﬁﬂ", "Straße ΐ ŉ", "x" * 1024])
def test_length_is_preserved(word: str) -> None:
    assert len(mirror(word)) == len(word)


def test_ascii_round_trips() -> None:
    word = "".join(chr(code) for code in range(32, 127))
    assert mirror(mirror(word)) == word
