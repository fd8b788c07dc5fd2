"""Settings, read once from the environment (prefix ``REALNAME_``) and ``.env``.

The embedded defaults make a fresh checkout run with nothing configured: a SQLite
file under ``./var/``, a development master key generated into ``./var/`` (with a
loud warning, see :mod:`realname.privacy.keys`), and the sandbox authorities.
PostgreSQL is chosen by URL alone: ``REALNAME_DATABASE_URL=postgresql+psycopg://…``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REALNAME_", env_file=".env", extra="ignore")

    #: Everything realname writes by default lives here (database, dev keys).
    var_dir: Path = Path("var")
    #: SQLAlchemy URL; empty means ``sqlite:///<var_dir>/realname.db``.
    database_url: str = ""
    #: Base64 of a 32-byte master key, or a keyring (see privacy.keys); wins over the file.
    master_key: SecretStr | None = None
    #: Path of the keyring file; empty means ``<var_dir>/keyring.json``.
    keyring_file: Path | None = None
    #: Refuse to generate a development keyring (set in production).
    require_keys: bool = False
    #: Log level for the JSON logs.
    log_level: str = "INFO"
    #: Seconds between the API process's re-runs of verifications an outage left
    #: pending; 0 turns the loop off. Several API processes on one database take turns:
    #: one at a time holds the job's lease (``realname.jobs.lease``).
    rerun_interval_seconds: float = Field(default=60.0, ge=0)
    #: Days the frames of a face session are kept (vault-encrypted) after its result;
    #: 0 (the default) discards them at once and keeps only the measurements.
    face_frame_retention_days: int = Field(default=0, ge=0, le=365)
    #: Verifications in flight per API process; more wait their turn (see
    #: ``realname.api.admission``).
    verification_concurrency: int = Field(default=256, ge=1)
    #: API processes ``realname serve`` runs (uvicorn workers sharing one socket). Each
    #: gets an equal share of every provider QPS quota, so the vendor's quota holds
    #: for the whole deployment (see ``realname.api.context.deployment_policy``).
    workers: int = Field(default=1, ge=1, le=256)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'realname.db').as_posix()}"

    @property
    def resolved_keyring_file(self) -> Path:
        return self.keyring_file or self.var_dir / "keyring.json"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings()
