"""What one API process holds for its lifetime: settings, database, vault, authorities.

API processes are stateless beyond this (DESIGN §12): everything a request needs
is in the database, so any number of processes can serve the same tenants. The
authorities are whatever ``REALNAME_PROVIDER`` selects (see
:func:`realname.authorities.composite.build_provider`), behind the resilience
wrapper, whose QPS limiters get this process's share of each quota
(:func:`deployment_policy`); on the embedded defaults that is the sandbox, answering
from its world ``REALNAME_SANDBOX_WORLD`` (``generated``), which is generated with demo
citizens on first start if ``realname sandbox generate`` has not made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from realname.api.admission import Admission
from realname.authorities.codes import API_SPECS
from realname.authorities.composite import ProviderSettings, build_provider
from realname.authorities.protocol import Check, Provider
from realname.authorities.resilience import ResiliencePolicy, ResilientProvider
from realname.authorities.sms import SmsGateway
from realname.config import Settings
from realname.jobs.lease import holder_id
from realname.privacy.keys import load_keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory
from realname.verification.policy import PolicyBook, default_policies

#: Size and seed of the demo world generated when the sandbox world is missing.
DEMO_CITIZENS = 2_000
DEMO_SEED = 1


def quota_share(quota: int, workers: int) -> int:
    """One process's share of a QPS quota the vendor counts across the deployment.

    Rounded down, so that the shares never add up to more than the quota; at least 1,
    so that a check with a small quota still works (with more processes than the
    quota allows, the deployment may then exceed it — run fewer workers). Callers
    beyond a process's share queue (the resilience wrapper's limiter), never dropped.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return max(1, quota // workers)


def deployment_policy(workers: int) -> ResiliencePolicy:
    """The resilience policy of one of ``workers`` API processes: every documented QPS
    quota (:data:`~realname.authorities.codes.API_SPECS`) divided among them."""
    return ResiliencePolicy(
        qps={check: quota_share(API_SPECS[check].qps, workers) for check in Check}
    )


def configured_authorities(settings: Settings) -> tuple[Provider, SmsGateway]:
    """The configured provider (sandbox or Tencent Cloud) and the SMS gateway.

    The SMS gateway is the sandbox's until a real one is configured; so the sandbox
    world exists in every configuration.
    """
    from realname.authorities.face import LocalFaceEngine
    from realname.authorities.sandbox import SandboxProvider, SandboxStore, SystemClock
    from realname.authorities.sandbox.generator import generate_into
    from realname.authorities.sandbox.sms import SandboxSmsGateway

    config = ProviderSettings()
    store = SandboxStore(config.sandbox_db or settings.var_dir / "sandbox.db")
    if config.sandbox_world not in {world.name for world in store.worlds()}:
        generate_into(
            store,
            DEMO_CITIZENS,
            DEMO_SEED,
            today=datetime.now(UTC).date(),
            world=config.sandbox_world,
        )
    sandbox = SandboxProvider(
        store, config.sandbox_world, clock=SystemClock(), face_engine=LocalFaceEngine()
    )
    provider = build_provider(config, sandbox=sandbox)
    return (
        ResilientProvider(provider, deployment_policy(settings.workers)),
        SandboxSmsGateway(store, sandbox.world_id),
    )


def prepare_shared_state(settings: Settings) -> None:
    """Create, once, what every API process would otherwise create on its first start.

    ``realname serve --workers N`` calls this in the parent before the workers start,
    so that N processes do not race to generate the development keyring or the
    sandbox world.
    """
    load_keyring(settings)
    configured_authorities(settings)


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    vault: Vault
    provider: Provider
    sms: SmsGateway
    policies: PolicyBook = field(default_factory=default_policies)
    admission: Admission = field(default_factory=Admission)
    #: Names this process when it holds a job lease (:mod:`realname.jobs.lease`): the
    #: background loops of one app share it, two apps (processes) never do.
    lease_holder: str = field(default_factory=holder_id)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        provider: Provider | None = None,
        sms: SmsGateway | None = None,
    ) -> AppContext:
        # The app's lifespan checkpoints the WAL in a thread (realname.api.app).
        engine = make_engine(settings.resolved_database_url, background_checkpoints=True)
        if provider is None or sms is None:
            configured_provider, configured_sms = configured_authorities(settings)
            provider = provider or configured_provider
            sms = sms or configured_sms
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            vault=Vault(load_keyring(settings), reload=lambda: load_keyring(settings)),
            provider=provider,
            sms=sms,
            admission=Admission(settings.verification_concurrency),
        )
