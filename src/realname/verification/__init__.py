"""Verification: assurance levels, the diagnosis of why a user is not verified, remedies.

The decision logic here is pure (no database, no network): :mod:`.diagnosis` turns
what the authorities answered plus the platform's own history into a level and an
ordered list of causes, and :mod:`.catalogue` explains each cause in zh-CN and en
with the remedies a user can act on. Orchestration and storage sit at the edges.
"""
