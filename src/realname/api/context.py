"""What one API process holds for its lifetime: settings, database, vault, authorities.

API processes are stateless beyond this (DESIGN §12): everything a request needs
is in the database, so any number of processes can serve the same tenants. On the
embedded defaults the authorities are the sandbox, over a demo world of synthetic
citizens generated into ``var/sandbox.db`` on first start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from realname.authorities.protocol import Provider
from realname.authorities.resilience import ResilientProvider
from realname.authorities.sms import SmsGateway
from realname.config import Settings
from realname.privacy.keys import load_keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory
from realname.verification.policy import PolicyBook, default_policies

#: The sandbox world the service answers from by default, and its size.
DEMO_WORLD = "demo"
DEMO_CITIZENS = 2_000
DEMO_SEED = 1


def sandbox_authorities(settings: Settings) -> tuple[Provider, SmsGateway]:
    """The in-process sandbox over the demo world (generated once), and its SMS gateway."""
    from realname.authorities.sandbox import SandboxProvider, SandboxStore, SystemClock
    from realname.authorities.sandbox.generator import generate_into
    from realname.authorities.sandbox.sms import SandboxSmsGateway

    store = SandboxStore(settings.var_dir / "sandbox.db")
    if DEMO_WORLD not in {world.name for world in store.worlds()}:
        generate_into(
            store,
            DEMO_CITIZENS,
            DEMO_SEED,
            today=datetime.now(UTC).date(),
            world=DEMO_WORLD,
        )
    sandbox = SandboxProvider(store, DEMO_WORLD, clock=SystemClock())
    return ResilientProvider(sandbox), SandboxSmsGateway(store, sandbox.world_id)


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    vault: Vault
    provider: Provider
    sms: SmsGateway
    policies: PolicyBook = field(default_factory=default_policies)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        provider: Provider | None = None,
        sms: SmsGateway | None = None,
    ) -> AppContext:
        engine = make_engine(settings.resolved_database_url)
        if provider is None or sms is None:
            sandbox_provider, sandbox_sms = sandbox_authorities(settings)
            provider = provider or sandbox_provider
            sms = sms or sandbox_sms
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            vault=Vault(load_keyring(settings), reload=lambda: load_keyring(settings)),
            provider=provider,
            sms=sms,
        )
