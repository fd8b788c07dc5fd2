"""Assurance levels L0–L3 (DESIGN §3), mapped to NIST SP 800-63A-style assurance.

=====  ===========================================================================
L0     an account whose phone passed an SMS one-time code
L1     L0 + ID two-element check (name + ID number) consistent at the registry
L2     L1 + a bound channel: carrier three-element consistent with OTP possession,
       or bank-card four-element consistent with OTP to the card's reserved phone
L3     L2 + face liveness + comparison with the authoritative portrait
=====  ===========================================================================
"""

from __future__ import annotations

from enum import IntEnum


class Level(IntEnum):
    L0 = 0
    L1 = 1
    L2 = 2
    L3 = 3

    @classmethod
    def parse(cls, text: str) -> Level:
        """``"L2"`` → ``Level.L2``; raises ``ValueError`` for anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown assurance level {text!r}; use L0, L1, L2 or L3") from None

    def __str__(self) -> str:
        return self.name
