"""Risk policies: readable rules that turn signals into a score, reasons and factors.

A policy is a YAML file (the default is ``data/policy.yaml``). Each rule names one
feature from :data:`realname.risk.signals.FEATURES`, a comparison, the score it adds
(per action if needed) and a reason code explained in ``data/reasons.yaml``. Each
action has a ladder of score thresholds, each demanding a set of step-up factors.
A policy is validated when loaded; a bad file is rejected with the field named.

:func:`decide` is a pure function. A trained model may add a score with its own
reason ``MODEL_SCORE``; the rule reasons are always listed too (DESIGN §6: a model
may add to the rules, never hide them).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from realname.risk.errors import PolicyInvalid
from realname.risk.signals import FEATURES, Action, Factor, Feature, Signals, features

Language = Literal["zh-CN", "en"]
MODEL_SCORE = "MODEL_SCORE"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rule(_Strict):
    """``feature op value`` adds ``score`` (or ``per_action[action]``) with ``code``.

    ``on_unknown: hit`` makes an unknown feature count as a hit (unknown is never
    safe); ``skip`` is for features whose absence must not count against the user,
    such as behaviour without consent.
    """

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    feature: str
    op: Literal["is_true", "is_false", "ge", "gt", "le", "lt"]
    value: float | None = None
    score: int = Field(ge=0, le=100)
    per_action: dict[Action, int] = {}
    actions: list[Action] | None = Field(default=None, description="limit to these actions")
    on_unknown: Literal["hit", "skip"] = "hit"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.feature not in FEATURES:
            raise ValueError(f"unknown feature {self.feature!r}")
        if self.op in ("is_true", "is_false") and self.value is not None:
            raise ValueError(f"{self.op} takes no value")
        if self.op not in ("is_true", "is_false") and self.value is None:
            raise ValueError(f"{self.op} needs a value")
        return self

    def contribution(self, action: Action) -> int:
        return self.per_action.get(action, self.score)

    def hit(self, value: Feature) -> bool | None:
        """Whether the rule matches; ``None`` when the feature is unknown."""
        if value is None:
            return None
        if self.op == "is_true":
            return value is True
        if self.op == "is_false":
            return value is False
        number, limit = float(value), float(self.value or 0.0)
        return {
            "ge": number >= limit,
            "gt": number > limit,
            "le": number <= limit,
            "lt": number < limit,
        }[self.op]


class Step(_Strict):
    min_score: int = Field(ge=0)
    factors: list[Factor] = Field(min_length=1)


class ActionPolicy(_Strict):
    baseline: list[Factor] = []
    steps: list[Step] = []

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        scores = [step.min_score for step in self.steps]
        if scores != sorted(set(scores)):
            raise ValueError("steps must have strictly ascending min_score")
        return self


class Policy(_Strict):
    version: Literal[1]
    rules: list[Rule] = Field(min_length=1)
    actions: dict[Action, ActionPolicy]
    model_weight: int = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        missing = sorted(set(Action) - set(self.actions))
        if missing:
            raise ValueError(f"no policy for actions: {', '.join(missing)}")
        codes = [rule.code for rule in self.rules]
        if len(codes) != len(set(codes)):
            raise ValueError("rule codes must be unique")
        unexplained = sorted(set(codes) - set(reason_texts()))
        if unexplained:
            raise ValueError(f"no catalogue text for {', '.join(unexplained)}")
        return self


class Reason(_Strict):
    code: str
    score: float
    unknown: bool = Field(default=False, description="fired because the signal was unknown")


class RiskDecision(_Strict):
    action: Action
    score: float
    reasons: tuple[Reason, ...] = Field(description="highest contribution first")
    factors: tuple[Factor, ...] = Field(description="all factors to pass, weakest first")
    step_up: tuple[Factor, ...] = Field(description="factors beyond the action's baseline")
    notes: tuple[str, ...] = ()

    @property
    def step_up_required(self) -> bool:
        return bool(self.step_up)


class ScoreModel(Protocol):
    """A trained model: probability in [0, 1] that a session is an attack."""

    def probability(self, signals: Signals) -> float: ...


def _location(error: ValidationError, data: object) -> str:
    loc = list(error.errors()[0]["loc"])
    # Name the rule by its code as well as its position, so the author finds it.
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            code = rules[loc[1]].get("code")
            if isinstance(code, str):
                loc[1] = f"{loc[1]}[{code}]"
    return ".".join(str(part) for part in loc) or "(file)"


def parse_policy(data: object, source: str = "policy") -> Policy:
    """Validate a policy mapping; :class:`PolicyInvalid` names the first bad field."""
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        field = _location(error, data)
        raise PolicyInvalid(f"{source}: {field}: {error.errors()[0]['msg']}", field=field) from None


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file; the packaged default when ``path`` is None."""
    if path is None:
        return default_policy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyInvalid(f"{path.name}: unreadable YAML", field="(file)") from error
    return parse_policy(data, path.name)


@cache
def default_policy() -> Policy:
    text = resources.files("realname.risk").joinpath("data", "policy.yaml").read_text("utf-8")
    return parse_policy(yaml.safe_load(text), "policy.yaml")


@cache
def reason_texts() -> dict[str, dict[Language, str]]:
    """The reason catalogue: zh-CN and en text for every reason code."""
    text = resources.files("realname.risk").joinpath("data", "reasons.yaml").read_text("utf-8")
    data: dict[str, dict[Language, str]] = yaml.safe_load(text)
    return data


def explain(code: str, language: Language = "zh-CN") -> str:
    return reason_texts()[code][language]


def decide(signals: Signals, policy: Policy, model: ScoreModel | None = None) -> RiskDecision:
    """Score ``signals`` against ``policy`` and name the factors to demand."""
    action = signals.action
    values, notes = features(signals)
    reasons: list[Reason] = []
    for rule in policy.rules:
        if rule.actions is not None and action not in rule.actions:
            continue
        matched = rule.hit(values[rule.feature])
        if matched is None and rule.on_unknown == "hit":
            reasons.append(Reason(code=rule.code, score=rule.contribution(action), unknown=True))
        elif matched:
            reasons.append(Reason(code=rule.code, score=rule.contribution(action)))
    if model is not None and policy.model_weight:
        added = round(model.probability(signals) * policy.model_weight, 1)
        if added > 0:
            reasons.append(Reason(code=MODEL_SCORE, score=added))
    reasons.sort(key=lambda reason: (-reason.score, reason.code))
    score = float(sum(reason.score for reason in reasons))
    plan = policy.actions[action]
    step_up: set[Factor] = set()
    for step in plan.steps:
        if score >= step.min_score:
            step_up = set(step.factors)
    order = list(Factor)
    extra = sorted(step_up - set(plan.baseline), key=order.index)
    return RiskDecision(
        action=action,
        score=score,
        reasons=tuple(reasons),
        factors=tuple(sorted(step_up | set(plan.baseline), key=order.index)),
        step_up=tuple(extra),
        notes=notes,
    )
