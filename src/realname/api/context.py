"""What one API process holds for its lifetime: settings, database and vault.

API processes are stateless beyond this (DESIGN §12): everything a request needs
is in the database, so any number of processes can serve the same tenants.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from realname.config import Settings
from realname.privacy.keys import load_keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    vault: Vault

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        engine = make_engine(settings.resolved_database_url)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            vault=Vault(load_keyring(settings), reload=lambda: load_keyring(settings)),
        )
