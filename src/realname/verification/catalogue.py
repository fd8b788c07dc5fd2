"""The cause catalogue: what realname says about each cause code, and what to do.

One YAML file (``data/catalogue.yaml``) holds the zh-CN and en words and the remedies
for every :class:`~realname.verification.causes.CauseCode`; the API, the borrower
pages and the help page per code all render from it, so the user education is the
same everywhere and lives in data, not in code paths (STYLE: user-facing text in
catalogues). Loading checks that every code has an entry and every remedy exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from realname.verification.causes import Cause, CauseCode, Severity

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

# Which vocabulary section explains which cause parameter.
_PARAM_VOCABULARY = {
    "part": "part",
    "card_status": "card_status",
    "face_reason": "face_reason",
    "carrier": "carrier",
    "ported_from": "carrier",
    "check": "check",
    "kinds": "consent_kind",
    "missing": "factor",
}
_LIST_SEPARATOR = {"zh-CN": "、", "en": ", "}


@dataclass(frozen=True)
class Remedy:
    id: str
    kind: Literal["action", "instruction"]
    label: str
    text: str


@dataclass(frozen=True)
class Explanation:
    """A cause in one language: what the API returns and the pages show."""

    code: CauseCode
    severity: Severity
    title: str
    message: str
    remedies: tuple[Remedy, ...]
    params: dict[str, Any]


class _Blank(dict[str, str]):
    """Leaves unknown placeholders visible rather than failing on a missing parameter."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Catalogue:
    causes: dict[str, dict[str, Any]]
    remedies: dict[str, dict[str, Any]]
    vocabulary: dict[str, dict[str, dict[str, str]]]

    def default_severity(self, code: CauseCode) -> Severity:
        return Severity(self.causes[code.value]["severity"])

    def cause(self, code: CauseCode, **params: Any) -> Cause:
        """A :class:`Cause` with the catalogue's default severity."""
        return Cause(code=code, severity=self.default_severity(code), params=params)

    def word(self, section: str, value: str, language: Language) -> str:
        entry = self.vocabulary.get(section, {}).get(value)
        return entry[language] if entry else value

    def _placeholders(self, params: dict[str, Any], language: Language) -> _Blank:
        values = _Blank({key: _plain(value, language) for key, value in params.items()})
        for key, value in params.items():
            section = _PARAM_VOCABULARY.get(key)
            if section is None:
                continue
            items = value if isinstance(value, list | tuple) else [value]
            for lang in LANGUAGES:
                words = [self.word(section, str(item), lang) for item in items]
                values[f"{key}_{'zh' if lang == 'zh-CN' else 'en'}"] = _LIST_SEPARATOR[
                    lang
                ].join(words)
        return values

    def remedy(self, remedy_id: str, language: Language, params: dict[str, Any]) -> Remedy:
        entry = self.remedies[remedy_id]
        values = self._placeholders(params, language)
        return Remedy(
            id=remedy_id,
            kind=entry["kind"],
            label=entry["label"][language],
            text=entry["text"][language].format_map(values),
        )

    def help(self, code: CauseCode, language: Language) -> str:
        """What the cause means in general, for the help page of ``code``."""
        text: str = self.causes[code.value]["help"][language]
        return text

    def explain(self, cause: Cause, language: Language) -> Explanation:
        entry = self.causes[cause.code.value]
        values = self._placeholders(cause.params, language)
        return Explanation(
            code=cause.code,
            severity=cause.severity,
            title=entry["title"][language],
            message=entry["message"][language].format_map(values),
            remedies=tuple(
                self.remedy(remedy_id, language, cause.params) for remedy_id in entry["remedies"]
            ),
            params=dict(cause.params),
        )


def _plain(value: Any, language: Language) -> str:
    if isinstance(value, list | tuple):
        return _LIST_SEPARATOR[language].join(str(item) for item in value)
    return str(value)


class CatalogueError(ValueError):
    """The catalogue file is inconsistent (a code or remedy missing): a packaging bug."""


def parse_catalogue(text: str) -> Catalogue:
    data = yaml.safe_load(text)
    causes: dict[str, dict[str, Any]] = data["causes"]
    remedies: dict[str, dict[str, Any]] = data["remedies"]
    missing = [code.value for code in CauseCode if code.value not in causes]
    if missing:
        raise CatalogueError(f"catalogue lacks cause codes: {missing}")
    unknown = sorted(set(causes) - {code.value for code in CauseCode})
    if unknown:
        raise CatalogueError(f"catalogue has unknown cause codes: {unknown}")
    for code, entry in causes.items():
        Severity(entry["severity"])
        for language in LANGUAGES:
            for part in ("title", "message", "help"):
                if not entry.get(part, {}).get(language):
                    raise CatalogueError(f"{code} lacks its {language} {part}")
        for remedy_id in entry["remedies"]:
            if remedy_id not in remedies:
                raise CatalogueError(f"{code} names an unknown remedy {remedy_id}")
    for remedy_id, remedy in remedies.items():
        if remedy["kind"] not in ("action", "instruction"):
            raise CatalogueError(f"remedy {remedy_id} has an unknown kind")
        for language in LANGUAGES:
            if not remedy["label"].get(language) or not remedy["text"].get(language):
                raise CatalogueError(f"remedy {remedy_id} lacks its {language} words")
            if "{" in remedy["text"][language]:
                # Remedies also appear on help pages, where no cause parameters exist.
                raise CatalogueError(f"remedy {remedy_id} must not use placeholders")
    return Catalogue(causes=causes, remedies=remedies, vocabulary=data.get("vocabulary", {}))


@cache
def get_catalogue() -> Catalogue:
    """The packaged catalogue, parsed and checked once per process."""
    text = resources.files("realname.verification").joinpath("data/catalogue.yaml").read_text(
        encoding="utf-8"
    )
    return parse_catalogue(text)
