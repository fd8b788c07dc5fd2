"""The worlds an HTTP sandbox answers from, and the knobs tests turn on them.

A Tencent request names no world, so the server has a default one; a request may
pick another with the sandbox-only header ``X-Sandbox-World`` (a fixture file loads
one world per scenario). Each world has its own :class:`SandboxProvider` — its
clock, its forced faults, its QPS quotas — and may have *forced results*: a raw
answer the server returns for an action instead of asking the provider, so that
every documented result code (including those no registry state produces, such as
``BankCard4EVerification`` "-8" 此卡被没收) can be sent over the wire.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from realname.authorities.protocol import Check, FaceEngine
from realname.authorities.sandbox.config import (
    Clock,
    FaultKind,
    FaultPlan,
    FixedClock,
    SandboxConfig,
)
from realname.authorities.sandbox.fixtures import FixtureFile, load_into_store
from realname.authorities.sandbox.provider import SandboxProvider
from realname.authorities.sandbox.store import SandboxStore

#: The sandbox-only request header that picks a world.
WORLD_HEADER = "X-Sandbox-World"


@dataclass
class World:
    """One world as the server sees it."""

    name: str
    provider: SandboxProvider
    #: The provider's QPS quotas; the provider's quota gate reads this very dict, so a
    #: change takes effect on the next call.
    quotas: dict[Check, int]
    default_quotas: Mapping[Check, int]
    #: Action name → the response fields to answer instead of asking the provider
    #: (``{"Result": …}``), or ``{"Error": {"Code": …, "Message": …}}``.
    forced: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The faults the world started with (a scenario's ``faults``).
    initial_faults: Mapping[Check, FaultKind] = field(default_factory=dict)

    def reset(self) -> None:
        """Back to how the world started: its own faults, default quotas, no forcing."""
        self.forced.clear()
        self.provider.faults.forced.clear()
        self.provider.faults.forced.update(self.initial_faults)
        self.quotas.clear()
        self.quotas.update(self.default_quotas)

    def set_quota(self, check: Check, qps: int | None) -> None:
        """Set a check's QPS quota; ``None`` restores the default."""
        if qps is None:
            if check in self.default_quotas:
                self.quotas[check] = self.default_quotas[check]
            else:
                self.quotas.pop(check, None)
        else:
            self.quotas[check] = qps


def _server_config(base: SandboxConfig | None) -> tuple[SandboxConfig, dict[Check, int]]:
    """A provider config of the server's own: private quotas, and no in-provider hang.

    A timeout fault is played by the server (it hangs the HTTP response), so the
    provider itself must fail at once.
    """
    config = base or SandboxConfig()
    quotas = dict(config.quotas)
    return replace(config, quotas=quotas, timeout_ms=0.0), quotas


class SandboxWorlds:
    """The worlds of one server, by name, with a default."""

    def __init__(self, worlds: Mapping[str, World], default: str) -> None:
        if default not in worlds:
            raise KeyError(default)
        self._worlds = dict(worlds)
        self.default = default

    def __iter__(self) -> Iterator[World]:
        return iter(self._worlds.values())

    def __len__(self) -> int:
        return len(self._worlds)

    @property
    def names(self) -> list[str]:
        return list(self._worlds)

    def get(self, name: str | None = None) -> World:
        """The world ``name`` (the default for ``None``); ``KeyError`` if unknown."""
        return self._worlds[self.default if name is None else name]

    @classmethod
    def from_fixture(
        cls,
        fixture: FixtureFile,
        *,
        store: SandboxStore | None = None,
        config: SandboxConfig | None = None,
        face_engine: FaceEngine | None = None,
        default: str | None = None,
        today: date | None = None,
    ) -> SandboxWorlds:
        """One world per scenario, as :meth:`SandboxProvider.for_scenario` builds it.

        Each scenario's ``faults`` are forced on its world and its clock stands at
        the scenario's (or file's) ``today``, else ``today``, else the real date.
        """
        store = store if store is not None else SandboxStore(":memory:")
        load_into_store(store, fixture)
        worlds: dict[str, World] = {}
        for scenario in fixture.scenarios:
            day = fixture.today_for(scenario) or today or date.today()
            world_config, quotas = _server_config(config)
            provider = SandboxProvider(
                store,
                scenario.id,
                clock=FixedClock(day),
                config=world_config,
                faults=FaultPlan(forced={fault.check: fault.kind for fault in scenario.faults}),
                face_engine=face_engine,
            )
            worlds[scenario.id] = World(
                scenario.id,
                provider,
                quotas,
                dict(quotas),
                initial_faults=dict(provider.faults.forced),
            )
        return cls(worlds, default or fixture.scenarios[0].id)

    @classmethod
    def from_store(
        cls,
        store: SandboxStore,
        world: str,
        *,
        config: SandboxConfig | None = None,
        clock: Clock | None = None,
        face_engine: FaceEngine | None = None,
    ) -> SandboxWorlds:
        """The single world ``world`` of a sandbox store (a generated population)."""
        world_config, quotas = _server_config(config)
        provider = SandboxProvider(
            store, world, clock=clock, config=world_config, face_engine=face_engine
        )
        return cls({world: World(world, provider, quotas, dict(quotas))}, world)
