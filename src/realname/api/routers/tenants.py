"""What a tenant's API key can learn about itself."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from realname.api.deps import PrincipalDep
from realname.api.routing import SessionEndingRoute

router = APIRouter(prefix="/v1", tags=["tenants"], route_class=SessionEndingRoute)


class WhoAmI(BaseModel):
    tenant_id: str
    key_id: str
    scopes: list[str]


@router.get("/tenant", response_model=WhoAmI)
def whoami(principal: PrincipalDep) -> WhoAmI:
    """The tenant and scopes of the key used: a quick check that a key is set up right."""
    return WhoAmI(
        tenant_id=str(principal.tenant_id),
        key_id=str(principal.key_id),
        scopes=list(principal.scopes),
    )
