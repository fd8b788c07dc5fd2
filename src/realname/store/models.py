"""The relational schema, as SQLAlchemy 2.0 typed declarative models.

Rules every table follows:

* **No personal data in plaintext columns** (PIPL Art. 51, JR/T 0171-2020):
  names, ID numbers, phones and bank cards exist only as AES-256-GCM ciphertext made
  by :class:`realname.privacy.vault.Vault`, plus an HMAC blind index where the
  platform must look a value up. Free-text columns (``raw_message``, ``purpose``,
  audit ``details``) are for codes and explanations, never for personal data.
* **Money is integer fen** (分): floating point cannot hold ¥0.10 exactly.
* **Time is aware UTC** (:class:`~realname.store.types.UtcDateTime`).
* **Ids are random UUID strings** chosen in Python (see :func:`~realname.store.types.new_id`),
  because ciphertexts are bound to the id of their row before it is inserted.

Constraint names come from one naming convention so that the hand-written migrations
and these models name everything identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from realname.store.types import UtcDateTime, new_id, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The identity elements a person can hold (DESIGN §3).
ELEMENT_KINDS = ("name", "id_number", "phone", "bank_card")
#: The kinds of separate consent PIPL Art. 29 requires for sensitive personal information.
CONSENT_KINDS = ("id", "phone", "bank_card", "face")
#: Cause severities (DESIGN §4).
SEVERITIES = ("blocking", "warning", "info")

ID_LENGTH = 36
HASH_HEX_LENGTH = 64


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        bytes: LargeBinary(),
    }


class Tenant(Base):
    """A platform customer (a lender); every other row belongs to exactly one tenant."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A tenant's API key; only the public prefix and a SHA-256 of the secret are kept.

    The secret half is 256 random bits, so a fast hash is enough: there is no
    dictionary to attack, and a slow password hash (argon2) would only add latency to
    every request (NIST SP 800-63B asks for slow salted hashing
    of memorised secrets, not of random keys).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class Person(Base):
    """A data subject; holds only their wrapped data key (envelope encryption).

    ``wrapped_dek`` is the person's data key encrypted under the master key ``kek_id``.
    Crypto-shredding (PIPL Art. 47) sets both to NULL and stamps ``shredded_at``;
    from then on every ciphertext of this person is unreadable.
    """

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    wrapped_dek: Mapped[bytes | None] = mapped_column(default=None)
    kek_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shredded_at: Mapped[datetime | None] = mapped_column(default=None)

    elements: Mapped[list[IdentityElement]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class Account(Base):
    """A login at a tenant's product, reached at L0 by a phone that passed an OTP."""

    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_tenant_phone", "tenant_id", "phone_blind_index"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    person_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    phone_ciphertext: Mapped[bytes | None] = mapped_column(default=None)
    phone_blind_index: Mapped[str | None] = mapped_column(String(HASH_HEX_LENGTH), default=None)
    status: Mapped[str] = mapped_column(String(32), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentityElement(Base):
    """One submitted identity element (name, ID number, phone or bank card) of a person.

    A newer submission supersedes the older one (``superseded_at``) instead of
    overwriting it, so diagnosis can tell "changed since last verified" (DESIGN §4,
    PHONE_RECYCLED). Names carry no blind index: they are never a lookup key.
    """

    __tablename__ = "identity_elements"
    __table_args__ = (
        CheckConstraint(_in("kind", ELEMENT_KINDS), name="kind"),
        # Partial: only looked-up kinds carry a blind index, and only they are looked
        # up, so a name (no index) costs no index entry and no page written (0013).
        Index(
            "ix_identity_elements_kind_blind_index",
            "kind",
            "blind_index",
            sqlite_where=text("blind_index IS NOT NULL"),
            postgresql_where=text("blind_index IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes]
    blind_index: Mapped[str | None] = mapped_column(String(HASH_HEX_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship(back_populates="elements")


class VerificationCheck(Base):
    """One call to an authority (DESIGN §5), with its raw answer and its cost.

    ``raw_code``/``raw_message`` keep what the provider said so a diagnosis can be
    re-derived later; callers must not put personal data in ``raw_message``.
    """

    __tablename__ = "verification_checks"
    __table_args__ = (
        CheckConstraint("cost_fen >= 0", name="cost_fen_non_negative"),
        CheckConstraint("latency_ms >= 0", name="latency_ms_non_negative"),
        Index("ix_verification_checks_account_created", "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    #: Not indexed (0013): no query seeks checks by tenant alone, and every check
    #: written would write a page of that index too.
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    check_kind: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    raw_code: Mapped[str | None] = mapped_column(String(64), default=None)
    raw_message: Mapped[str | None] = mapped_column(String(500), default=None)
    provider_request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    billable: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_fen: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerificationResult(Base):
    """The level an account reached against the level a product needs, at one moment."""

    __tablename__ = "verification_results"
    __table_args__ = (Index("ix_verification_results_account_created", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    level_reached: Mapped[str] = mapped_column(String(8))
    level_needed: Mapped[str] = mapped_column(String(8))
    #: Blind index of the phone the L2 channel was bound on (PHONE_RECYCLED).
    bound_phone_index: Mapped[str | None] = mapped_column(String(HASH_HEX_LENGTH), default=None)
    product: Mapped[str | None] = mapped_column(String(64), default=None)
    #: When the level was reached (``created_at`` is when the row was written).
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    causes: Mapped[list[Cause]] = relationship(
        back_populates="result",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Cause.ordinal",
    )


class Cause(Base):
    """One ordered cause of a result (DESIGN §4): a stable code and a severity."""

    __tablename__ = "causes"
    __table_args__ = (CheckConstraint(_in("severity", SEVERITIES), name="severity"),)

    result_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("verification_results.id", ondelete="CASCADE"),
        primary_key=True,
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    result: Mapped[VerificationResult] = relationship(back_populates="causes")


class Consent(Base):
    """A separate consent for one kind of sensitive personal information (PIPL Art. 29).

    It belongs to a person, an account, or both (an account can consent before a
    person record exists). ``purpose`` states why the data is processed (PIPL Art. 17).
    """

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint(_in("kind", CONSENT_KINDS), name="kind"),
        CheckConstraint("person_id IS NOT NULL OR account_id IS NOT NULL", name="subject_present"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    person_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("people.id", ondelete="CASCADE"), index=True, default=None
    )
    account_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One entry of the hash-chained audit log (JR/T 0171-2020, PIPL Art. 54).

    ``hash`` is SHA-256 over a canonical JSON of the entry including ``prev_hash``,
    so editing, deleting or reordering any entry breaks the chain at that ``seq``
    (see :mod:`realname.store.repositories.audit`). ``seq`` is assigned by the
    appender, not by the database, and its primary key makes a forked chain impossible.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    #: Not unique-indexed (0013): no query seeks an entry by its hash, and hashes
    #: cannot repeat (``seq`` is hashed); the index cost a page on every append.
    hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))


__all__ = [
    "CONSENT_KINDS",
    "ELEMENT_KINDS",
    "SEVERITIES",
    "Account",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Cause",
    "Consent",
    "IdentityElement",
    "Person",
    "Tenant",
    "VerificationCheck",
    "VerificationResult",
]


# --- accounts: one-time codes, sessions, proven phones, attempt limits, links ---------
# (realname.accounts; migration 0003)

#: What a one-time code proves (realname.accounts.otp.Purpose).
OTP_PURPOSES = ("signup", "login", "phone_change", "link_account", "possession")
#: Lifecycle of a one-time code; "expired" is not stored, it follows from ``expires_at``.
OTP_STATUSES = ("pending", "verified", "consumed", "locked", "superseded", "undeliverable")
#: What an attempt limit is keyed on (realname.accounts.limits).
ATTEMPT_KEY_KINDS = ("id_number", "phone", "device", "ip")
ATTEMPT_OUTCOMES = ("failure", "success")


class OtpChallenge(Base):
    """One SMS one-time code sent to a phone, for one purpose.

    The code itself is never stored: ``code_mac`` is HMAC-SHA256 under a key derived
    from the vault's blind-index key, over the challenge id and the code, so a copy
    of the database cannot be brute-forced without that key. The phone is kept only
    as its blind index: a challenge has no data subject whose key could encrypt it.
    """

    __tablename__ = "otp_challenges"
    __table_args__ = (
        CheckConstraint(_in("purpose", OTP_PURPOSES), name="purpose"),
        CheckConstraint(_in("status", OTP_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index(
            "ix_otp_challenges_tenant_phone_created", "tenant_id", "phone_blind_index", "created_at"
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    #: The account that asked (link, possession, phone change); none for sign-in.
    account_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True, default=None
    )
    purpose: Mapped[str] = mapped_column(String(16))
    phone_blind_index: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    code_mac: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The gateway's status (SMPP ``DELIVRD``/``UNDELIV``) and message id.
    delivery_status: Mapped[str | None] = mapped_column(String(16), default=None)
    gateway_message_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    consumed_at: Mapped[datetime | None] = mapped_column(default=None)


class AccountSession(Base):
    """A signed-in session of an account; only the SHA-256 of its 256-bit token is kept."""

    __tablename__ = "account_sessions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PhoneProof(Base):
    """The holder of an account proved, by a one-time code, that they hold a phone.

    The verification engine reads "possession proven" (DESIGN §3, L0 and L2) from
    these rows; the phone is named by its blind index only.
    """

    __tablename__ = "phone_proofs"
    __table_args__ = (
        CheckConstraint(_in("purpose", OTP_PURPOSES), name="purpose"),
        Index("ix_phone_proofs_account_phone", "account_id", "phone_blind_index"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    phone_blind_index: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    purpose: Mapped[str] = mapped_column(String(16))
    challenge_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("otp_challenges.id", ondelete="SET NULL"),
        index=True,
        default=None,
    )
    proven_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttemptEvent(Base):
    """One failed or successful attempt, counted by the sliding-window attempt limits.

    ``key_hash`` is a blind index (ID number, phone) or an HMAC (device id, IP
    address), never the value itself. Rows are kept a day (the risk gate's velocity)
    and then pruned (:func:`realname.accounts.limits.retention`).
    """

    __tablename__ = "attempt_events"
    __table_args__ = (
        CheckConstraint(_in("key_kind", ATTEMPT_KEY_KINDS), name="key_kind"),
        CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),
        Index(
            "ix_attempt_events_key",
            "tenant_id",
            "key_kind",
            "key_hash",
            "outcome",
            "at",
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    key_kind: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    outcome: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AccountLink(Base):
    """Two accounts of one person, linked after the user proved control of both.

    Stored in both directions, so ``account_id`` alone finds every link.
    """

    __tablename__ = "account_links"
    __table_args__ = (CheckConstraint("account_id <> linked_account_id", name="not_self"),)

    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    linked_account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    challenge_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("otp_challenges.id", ondelete="SET NULL"), default=None
    )
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ += [
    "ATTEMPT_KEY_KINDS",
    "ATTEMPT_OUTCOMES",
    "OTP_PURPOSES",
    "OTP_STATUSES",
    "AccountLink",
    "AccountSession",
    "AttemptEvent",
    "OtpChallenge",
    "PhoneProof",
]


class PhoneBinding(Base):
    """Every phone an account has been bound to, and when (换绑 history).

    The account row holds the current phone; this table keeps the old bindings so a
    support agent can see them and a re-issued number can be recognised. The phone is
    encrypted under the holder's data key like every other element.
    """

    __tablename__ = "phone_bindings"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    phone_ciphertext: Mapped[bytes | None] = mapped_column(default=None)
    phone_blind_index: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), index=True)
    #: Why the binding began: ``signup`` or ``phone_change``.
    reason: Mapped[str] = mapped_column(String(16))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
    unbound_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ += ["PhoneBinding"]


# --- idempotency keys and webhooks (realname.api.idempotency, realname.webhooks; 0005) -

#: Lifecycle of an idempotency key: the first request is running, or its answer is kept.
IDEMPOTENCY_STATUSES = ("in_progress", "completed")
#: Lifecycle of a webhook delivery (realname.webhooks.outbox).
WEBHOOK_DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


class IdempotencyKey(Base):
    """The first answer to a POST that carried ``Idempotency-Key``, kept for 24 hours.

    draft-ietf-httpapi-idempotency-key-header: a retry with the same key and the same
    request gets this answer again instead of running the request twice. The request
    itself is kept only as ``fingerprint`` (SHA-256 over method, path, query and the
    SHA-256 of the body), never its body. The answer's body is kept AES-256-GCM
    encrypted (see :mod:`realname.api.idempotency`): some answers carry a secret shown
    once, such as a session token or a webhook signing secret.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint(_in("status", IDEMPOTENCY_STATUSES), name="status"),)

    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: While ``in_progress``: when a crashed first request stops blocking retries.
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebhookEndpoint(Base):
    """A tenant's HTTPS endpoint subscribed to events (DESIGN §2, platform engineers).

    ``secret_ciphertext`` is the Standard Webhooks signing secret, AES-256-GCM
    encrypted (see :mod:`realname.webhooks.secrets`): the dispatcher must be able to
    sign, so a one-way hash will not do. Deleting an endpoint keeps the row for its
    delivery log but destroys the secret.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(default=list)
    secret_ciphertext: Mapped[bytes | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One event for one endpoint (transactional outbox), and where its delivery stands.

    Written in the transaction that changed the state it reports; ``payload`` is the
    exact JSON body that is signed and sent on every attempt. It holds ids, levels and
    cause codes only — never personal data.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", WEBHOOK_DELIVERY_STATUSES), name="status"),
        CheckConstraint("attempt_count >= 0", name="attempt_count_non_negative"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    #: Not indexed (0013): deliveries are sought by status and by endpoint.
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    #: The event's id: the payload's ``id`` and the ``webhook-id`` header.
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WebhookAttempt.attempt",
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: the status code or error class, and the latency.

    The receiver's response body is never read into the log: it is someone else's
    data, and it could echo anything.
    """

    __tablename__ = "webhook_attempts"
    __table_args__ = (CheckConstraint("latency_ms >= 0", name="latency_ms_non_negative"),)

    delivery_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    #: The exception class when no HTTP answer came (``ConnectError``, ``ReadTimeout``).
    error: Mapped[str | None] = mapped_column(String(64), default=None)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts")


__all__ += [
    "IDEMPOTENCY_STATUSES",
    "WEBHOOK_DELIVERY_STATUSES",
    "IdempotencyKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]


# --- Reusable verification (DESIGN §7): trust registry, status lists, ledger ---------------
# Appended as its own section because models.py is append-only while several changes land.
from sqlalchemy import BigInteger  # noqa: E402 - see the comment above

#: Roles an institution can hold in the trust registry.
INSTITUTION_ROLES = ("issuer", "verifier", "witness")
#: Why a credential was revoked (realname.credentials.status_list.RevokeReason).
REVOKE_REASONS = ("erasure", "phone_reissued", "fraud")
#: Ledger event types (realname.credentials.events.EventType).
LEDGER_EVENT_TYPES = ("issued", "revoked")
DID_LENGTH = 255


class TrustedInstitution(Base):
    """An institution of the trust registry, by DID (did:web or Ed25519 did:key)."""

    __tablename__ = "trusted_institutions"

    did: Mapped[str] = mapped_column(String(DID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: A subset of :data:`INSTITUTION_ROLES`.
    roles: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class InstitutionKey(Base):
    """One Ed25519 public key of an institution, valid on ``[valid_from, valid_until)``.

    Rotation closes the old key's interval instead of deleting it, so credentials
    issued while it was valid still verify (the verifier looks keys up at ``iat``).
    """

    __tablename__ = "institution_keys"
    __table_args__ = (
        Index("ix_institution_keys_did_kid", "institution_did", "kid", unique=True),
        CheckConstraint("length(public_key) = 32", name="public_key_ed25519"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    institution_did: Mapped[str] = mapped_column(
        String(DID_LENGTH), ForeignKey("trusted_institutions.did", ondelete="CASCADE")
    )
    kid: Mapped[str] = mapped_column(String(DID_LENGTH + 64))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    valid_from: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CredentialStatusList(Base):
    """An issuer's Token Status List: the uncompressed statuses and the next free index."""

    __tablename__ = "credential_status_lists"
    __table_args__ = (
        Index("ix_credential_status_lists_uri", "uri", unique=True),
        CheckConstraint("bits IN (1, 2, 4, 8)", name="bits"),
        CheckConstraint("next_index >= 0 AND next_index <= capacity", name="next_index_range"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    issuer_did: Mapped[str] = mapped_column(
        String(DID_LENGTH), ForeignKey("trusted_institutions.did", ondelete="CASCADE"), index=True
    )
    uri: Mapped[str] = mapped_column(String(2048))
    bits: Mapped[int] = mapped_column(Integer, default=1)
    capacity: Mapped[int] = mapped_column(Integer)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    statuses: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CredentialRevocation(Base):
    """Why and when one status entry was revoked: a reason code and a hash, no personal data."""

    __tablename__ = "credential_revocations"
    __table_args__ = (CheckConstraint(_in("reason", REVOKE_REASONS), name="reason"),)

    list_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("credential_status_lists.id", ondelete="CASCADE"),
        primary_key=True,
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(32))
    credential_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerLeaf(Base):
    """One leaf of the append-only Merkle log: an event about a credential, by hash.

    ``leaf_index`` is the primary key and is assigned densely from 0, so two writers
    racing for the same index collide instead of forking the log.
    """

    __tablename__ = "ledger_leaves"
    __table_args__ = (
        CheckConstraint(_in("event_type", LEDGER_EVENT_TYPES), name="event_type"),
        CheckConstraint("length(leaf_hash) = 32", name="leaf_hash_sha256"),
    )

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    event_type: Mapped[str] = mapped_column(String(16))
    credential_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), index=True)
    #: The event time in the leaf data, unix seconds (kept as the integer that was hashed).
    event_time: Mapped[int] = mapped_column(BigInteger)
    appended_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerCheckpoint(Base):
    """A signed checkpoint (C2SP signed note), with any witness cosignatures added later."""

    __tablename__ = "ledger_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ += [
    "INSTITUTION_ROLES",
    "LEDGER_EVENT_TYPES",
    "REVOKE_REASONS",
    "CredentialRevocation",
    "CredentialStatusList",
    "InstitutionKey",
    "LedgerCheckpoint",
    "LedgerLeaf",
    "TrustedInstitution",
]


# --- adaptive step-up: single-use grants and the devices seen per account -------------
# (realname.risk.service; migration 0007)

#: The sensitive actions a step-up challenge is opened for (realname.risk.signals.Action).
STEP_UP_ACTIONS = ("login", "verification", "credit_drawdown", "phone_change", "payout_card_change")


class StepUpChallenge(Base):
    """The factors one risk decision demanded, and whether they were passed and used.

    Only the SHA-256 of the challenge id is kept: the id is a bearer token that
    unlocks one action. Completing every factor sets ``completed_at``; the retry that
    uses it sets ``consumed_at`` in one guarded update, so it unlocks exactly once.
    """

    __tablename__ = "step_up_challenges"
    __table_args__ = (
        CheckConstraint(_in("action", STEP_UP_ACTIONS), name="action"),
        Index("ix_step_up_challenges_account_created", "account_id", "created_at"),
    )

    id_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(32))
    #: Every factor to pass (realname.risk.signals.Factor values), weakest first.
    factors: Mapped[list[str]] = mapped_column(default=list)
    passed: Mapped[list[str]] = mapped_column(default=list)
    #: The SMS challenge sent to the bound phone for the ``otp`` factor.
    otp_challenge_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    consumed_at: Mapped[datetime | None] = mapped_column(default=None)


class RiskDevice(Base):
    """A device an account acted from without (or after passing) a step-up.

    ``device_hash`` is an HMAC of the ``X-Device-Id`` value, never the value.
    """

    __tablename__ = "risk_devices"
    __table_args__ = (
        Index("ix_risk_devices_account_device", "account_id", "device_hash", unique=True),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    device_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ += ["STEP_UP_ACTIONS", "RiskDevice", "StepUpChallenge"]


class CredentialIssuance(Base):
    """Which credential (by hash) was issued to which account, and its status entry.

    What revocation needs to find: a tenant's credential by hash, or every live
    credential of an account when its number is re-issued or its data erased.
    """

    __tablename__ = "credential_issuances"

    credential_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    list_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("credential_status_lists.id", ondelete="CASCADE")
    )
    idx: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ += ["CredentialIssuance"]


#: What happened to the human review an automated decline offers (PIPL Art. 24).
CREDIT_REVIEW_STATES = ("not_offered", "available", "requested", "decided")


class CreditApplication(Base):
    """One assessed credit application: the decision the applicant was given, kept.

    Data minimisation (PIPL Art. 6): the applicant's declared income, assets and
    household are used for the decision and not stored; what is kept is what a
    review, a complaint or the operations funnel needs — amount, term, outcome,
    limit, score, the ranked reason codes and the model version that produced them.
    """

    __tablename__ = "credit_applications"
    __table_args__ = (
        CheckConstraint(_in("decision", ("approve", "refer", "decline")), name="decision"),
        CheckConstraint(_in("review_state", CREDIT_REVIEW_STATES), name="review_state"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    product: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(Integer)
    term_months: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    limit_fen: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    pd_bp: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(2))
    level_required: Mapped[str] = mapped_column(String(2))
    reasons: Mapped[list[str]] = mapped_column()
    model_version: Mapped[str] = mapped_column(String(64))
    review_state: Mapped[str] = mapped_column(String(16))
    review_requested_at: Mapped[datetime | None] = mapped_column(nullable=True)
    review_case_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    review_outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)


__all__ += ["CreditApplication"]


class FaceSession(Base):
    """One active-liveness challenge of an account, and what its one upload showed.

    Kept in the database, not in process memory, so a challenge issued by one API
    process can be answered through another and a replay is recognised everywhere.
    ``used_at`` is set by a single guarded update: the nonce is spent exactly once.
    ``result`` holds measurements only (landmark ratios, similarity, codes), never a
    frame or a descriptor. ``frames_ciphertext`` is empty unless a retention period is
    configured; then it holds the frames encrypted under the person's data key until
    ``purge_after``.
    """

    __tablename__ = "face_sessions"
    __table_args__ = (Index("ix_face_sessions_account_created", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    #: SHA-256 of the nonce: the nonce is a bearer secret for one upload.
    nonce_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), unique=True)
    actions: Mapped[list[str]] = mapped_column(default=list)
    product: Mapped[str] = mapped_column(String(64))
    #: pending, passed, failed or expired.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    frames_ciphertext: Mapped[bytes | None] = mapped_column(default=None)
    purge_after: Mapped[datetime | None] = mapped_column(default=None)


__all__ += ["FaceSession"]


# --- operations console: operators, their sessions, review cases (realname.ops; 0009) ---

#: What an operator may do (realname.ops.operators.Role).
OPERATOR_ROLES = ("reviewer", "supervisor", "auditor")
#: Why a case is in the review queue (realname.ops.cases.Reason).
REVIEW_REASONS = (
    "IDENTITY_IN_USE",
    "UNDER_REVIEW",
    "FACE_LOW_CONFIDENCE",
    "REPEATED_FAILURES",
    "CREDIT_DECLINE_REVIEW",
)
#: ``withdrawn``: a later result of the borrower cleared the cause before a decision.
REVIEW_STATES = ("open", "assigned", "decided", "withdrawn")
REVIEW_DECISIONS = ("approve", "reject", "resubmit")


class Operator(Base):
    """A person who works the operations console; the password is an argon2id hash."""

    __tablename__ = "operators"
    __table_args__ = (CheckConstraint(_in("role", OPERATOR_ROLES), name="role"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class OperatorSession(Base):
    """A signed-in operator; only the SHA-256 of the cookie's token is kept."""

    __tablename__ = "operator_sessions"

    token_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH), primary_key=True)
    operator_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class OperatorLoginFailure(Base):
    """One failed console login, keyed by an HMAC of the username or the client address."""

    __tablename__ = "operator_login_failures"
    __table_args__ = (Index("ix_operator_login_failures_key_at", "key_hash", "at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    key_hash: Mapped[str] = mapped_column(String(HASH_HEX_LENGTH))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewCase(Base):
    """One thing a person must decide about an account (the review queue).

    ``open_key`` is ``account:reason`` while the case is undecided and NULL after, so
    a unique index allows one open case per account and reason however many results
    repeat the cause; ``(reason, reference)`` is unique for ever, so re-scanning the
    same result never opens a second case.
    """

    __tablename__ = "review_cases"
    __table_args__ = (
        CheckConstraint(_in("reason", REVIEW_REASONS), name="reason"),
        CheckConstraint(_in("state", REVIEW_STATES), name="state"),
        CheckConstraint(
            "decision IS NULL OR " + _in("decision", REVIEW_DECISIONS), name="decision"
        ),
        Index("ix_review_cases_reason_reference", "reason", "reference", unique=True),
        Index("ix_review_cases_state_due", "state", "due_at"),
        Index("ix_review_cases_account_opened", "account_id", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("accounts.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(32))
    #: What opened the case: a verification result id, a credit decision id, …
    reference: Mapped[str] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    state: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    assignee_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("operators.id", ondelete="SET NULL"), default=None
    )
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    decision_code: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The level an approval grants (L1…L3); none for other decisions.
    level_granted: Mapped[str | None] = mapped_column(String(8), default=None)
    decided_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("operators.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class OpsWatermark(Base):
    """How far a scan (the review-case intake) has read, so the next scan starts there."""

    __tablename__ = "ops_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]


__all__ += [
    "OPERATOR_ROLES",
    "REVIEW_DECISIONS",
    "REVIEW_REASONS",
    "REVIEW_STATES",
    "Operator",
    "OperatorLoginFailure",
    "OperatorSession",
    "OpsWatermark",
    "ReviewCase",
]


class JobLease(Base):
    """Who runs a singleton background job (the re-run loop, the ledger checkpointer)
    until when (:mod:`realname.jobs.lease`).

    Every API process runs the same loops; a process does a pass only while it holds
    the job's lease, so any number of processes on any number of hosts share one
    database without doing the same work twice, and another takes over when the
    holder stops renewing. ``holder`` names a process (host, pid and a random part),
    never a person.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]


__all__ += ["JobLease"]
