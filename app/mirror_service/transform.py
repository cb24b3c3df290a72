"""The mirror transformation: swap the case of every letter, keep everything else, then reverse.

The case swap is decided per character (code point) and never changes the length:
a character whose `str.swapcase()` is exactly one character becomes that character; a character whose
case swap expands ('ß' → 'SS', 'ŉ' → 'ʼN', 'İ' → 'i̇') stays as it is. So `len(mirror(w)) == len(w)`
always. Mirroring twice gives an ASCII word back; a few letters do not round-trip ('ſ' → 'S' → 's').
Reversal is by code point too: a combining accent ends up before the letter it belonged to.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _swap_one(character: str) -> str:
    swapped = character.swapcase()
    return swapped if len(swapped) == 1 else character


def mirror(word: str) -> str:
    """`fOoBar25` → `52RAbOoF`."""
    if word.isascii():  # the common case: ASCII case swapping is always one-to-one
        return word.swapcase()[::-1]
    return "".join(map(_swap_one, reversed(word)))
