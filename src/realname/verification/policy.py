"""Product policies: the level a product needs and the ages it serves (DESIGN §3).

A credit line up to ¥5,000 needs L2, above it L3; changing the bound phone needs
L3 or bank-card four-element plus face. Policies are data (``data/policies.yaml``,
or a platform's own file), validated with Pydantic when loaded.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from realname.verification.levels import Level

Factor = Literal["id_two_element", "phone", "bank_card", "face"]


class ProductPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: dict[str, str] = Field(default_factory=dict)
    level: Level
    min_age: int = Field(default=18, ge=0, le=150)
    max_age: int = Field(default=120, ge=0, le=150)
    max_amount_fen: int | None = Field(default=None, gt=0)
    alternative_factors: tuple[Factor, ...] = ()

    @field_validator("level", mode="before")
    @classmethod
    def _parse_level(cls, value: object) -> object:
        return Level.parse(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ages_in_order(self) -> ProductPolicy:
        if self.min_age > self.max_age:
            raise ValueError("min_age must not exceed max_age")
        return self


class PolicyBook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    products: dict[str, ProductPolicy]
    credit_tiers: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _name_products(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("products"), dict):
            data = dict(data)
            data["products"] = {
                key: {"name": key, **value} if isinstance(value, dict) else value
                for key, value in data["products"].items()
            }
        return data

    @model_validator(mode="after")
    def _tiers_exist(self) -> PolicyBook:
        unknown = [tier for tier in self.credit_tiers if tier not in self.products]
        if unknown:
            raise ValueError(f"credit_tiers names unknown products: {unknown}")
        if "default" not in self.products:
            raise ValueError("a policy book needs a 'default' product")
        return self

    def product(self, name: str | None) -> ProductPolicy:
        """The named product's policy; ``None`` means ``default``."""
        key = name or "default"
        if key not in self.products:
            raise KeyError(key)
        return self.products[key]

    def for_credit_amount(self, amount_fen: int) -> ProductPolicy:
        """The credit product whose bound covers ``amount_fen`` (the last tier has none)."""
        for tier in self.credit_tiers:
            policy = self.products[tier]
            if policy.max_amount_fen is None or amount_fen <= policy.max_amount_fen:
                return policy
        return self.product(None)

    def with_level(self, level: Level) -> ProductPolicy:
        """The default product with another level (fixture ``product_level``)."""
        return self.product(None).model_copy(update={"name": f"level-{level}", "level": level})


def parse_policies(text: str) -> PolicyBook:
    return PolicyBook.model_validate(yaml.safe_load(text))


@cache
def default_policies() -> PolicyBook:
    text = resources.files("realname.verification").joinpath("data/policies.yaml").read_text(
        encoding="utf-8"
    )
    return parse_policies(text)


def load_policies(path: Path | None) -> PolicyBook:
    """A platform's policy file, or the packaged defaults when ``path`` is ``None``."""
    if path is None:
        return default_policies()
    return parse_policies(path.read_text(encoding="utf-8"))
