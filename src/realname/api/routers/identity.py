"""Local validation of identity elements: free, instant, and before any paid check."""

from __future__ import annotations

import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from realname.api.deps import require_scope
from realname.api.routing import SessionEndingRoute
from realname.identity.inspection import FieldReport, inspect_elements

router = APIRouter(prefix="/v1/identity", tags=["identity"], route_class=SessionEndingRoute)


class ElementsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "陳國華",
                    "id_number": "440305198811203167",
                    "phone": "+86 186 1234 0001",
                    "bank_card": "6222 0212 3456 7890 128",
                }
            ]
        },
    )

    name: str | None = Field(default=None, max_length=64)
    id_number: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    bank_card: str | None = Field(default=None, max_length=40)


class FieldOut(BaseModel):
    valid: bool
    masked: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    code: str | None = Field(default=None, description="Stable error code, e.g. ID_NUMBER_INVALID")
    detail: str | None = Field(default=None, description="Which part is wrong, e.g. checksum")
    message: str | None = None

    @classmethod
    def of(cls, report: FieldReport) -> FieldOut:
        return cls(
            valid=report.valid,
            masked=report.masked,
            facts=report.facts,
            code=report.code,
            detail=report.detail,
            message=report.message,
        )


class ElementsOut(BaseModel):
    valid: bool
    fields: dict[str, FieldOut]


@router.post(
    "/validate",
    response_model=ElementsOut,
    dependencies=[Depends(require_scope("identity:validate"))],
)
def validate_elements(body: ElementsIn) -> ElementsOut:
    """Check name, ID number, phone and bank card locally and say which part is wrong.

    Nothing is stored and no authority is asked; values come back masked only.
    """
    reports = inspect_elements(
        today=datetime.datetime.now(datetime.UTC).date(),
        name_value=body.name,
        id_number_value=body.id_number,
        phone_value=body.phone,
        bank_card_value=body.bank_card,
    )
    fields = {key: FieldOut.of(report) for key, report in reports.items()}
    return ElementsOut(valid=all(f.valid for f in fields.values()), fields=fields)
