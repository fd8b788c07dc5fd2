"""A review case made by real verification: the sandbox scenario where the identity is
already verified on another person's account (IDENTITY_IN_USE)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.repositories.people import create_account
from realname.verification import users
from realname.verification.scenarios import seed_platform_accounts
from realname.web.borrower import web_tenant_id

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
SCENARIO = "identity-verified-elsewhere-by-someone-else"
NAME, ID_NUMBER, PHONE = "王小明", "110105199003071239", "18612348888"


def scenario_context(settings: Settings) -> tuple[AppContext, SandboxSmsGateway]:
    scenario = FIXTURE.scenario(SCENARIO)
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    return AppContext.from_settings(settings, provider=provider, sms=gateway), gateway


def verify_identity_in_use(context: AppContext) -> str:
    """Run the real verification for a web borrower; returns their account id."""
    scenario = FIXTURE.scenario(SCENARIO)
    now = datetime.now(UTC)
    with context.session_factory() as session:
        tenant = web_tenant_id(session)
        seed_platform_accounts(session, context.vault, scenario, tenant)
        account = create_account(session, context.vault, tenant, PHONE)
        users.give_consents(session, account, ["id", "phone"], now)
        # Its own thread: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            submitted = pool.submit(
                asyncio.run,
                users.submit(
                    session,
                    context.vault,
                    context.provider,
                    account,
                    name=NAME,
                    id_number=ID_NUMBER,
                    phone=PHONE,
                    bank_card=None,
                    policy=context.policies.product("default"),
                    now=now,
                ),
            ).result()
        assert "IDENTITY_IN_USE" in submitted.outcome.diagnosis.codes
        session.commit()
        return account.id
