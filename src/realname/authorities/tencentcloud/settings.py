"""Settings of the Tencent Cloud FaceID adapter, from ``REALNAME_TENCENT_*``.

==================================  ===============================================
``REALNAME_TENCENT_SECRET_ID``      API key id (SecretId)
``REALNAME_TENCENT_SECRET_KEY``     API key secret (SecretKey)
``REALNAME_TENCENT_REGION``         region sent as ``X-TC-Region`` (ap-guangzhou)
``REALNAME_TENCENT_ENDPOINT``       ``faceid.tencentcloudapi.com``, or a URL such as
                                    ``http://127.0.0.1:8900`` for the HTTP sandbox
``REALNAME_TENCENT_TIMEOUT_SECONDS`` per-call timeout (5)
``REALNAME_TENCENT_PRICES_FEN``     JSON ``{"id_two_element": 15, …}``: price of a
                                    billable call per check, in fen
==================================  ===============================================
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from realname.authorities.protocol import Check
from realname.authorities.sandbox.config import ILLUSTRATIVE_PRICES_FEN

DEFAULT_ENDPOINT = "faceid.tencentcloudapi.com"


class TencentCloudSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REALNAME_TENCENT_", env_file=".env", extra="ignore"
    )

    secret_id: str = ""
    secret_key: SecretStr = SecretStr("")
    region: str = "ap-guangzhou"
    #: A host (HTTPS) or a URL with its scheme (``http://127.0.0.1:8900``).
    endpoint: str = DEFAULT_ENDPOINT
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    #: Price per billable call in fen. The default is the sandbox's illustrative list,
    #: so that sandbox and adapter report the same costs; set the contracted prices in
    #: production.
    prices_fen: dict[Check, int] = Field(default_factory=lambda: dict(ILLUSTRATIVE_PRICES_FEN))

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the endpoint is a host[:port] or an http(s):// URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("the endpoint has no path: Tencent Cloud API 3.0 posts to /")
        return value

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return urlsplit(self.endpoint).scheme if "://" in self.endpoint else "https"

    @property
    def host(self) -> str:
        """``host[:port]`` as the ``Host`` header (and the signature) carries it."""
        if "://" in self.endpoint:
            return urlsplit(self.endpoint).netloc
        return self.endpoint
