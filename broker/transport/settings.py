"""How to reach Kafka: typed settings and their translation into client keyword arguments.

The translation is a pure function so it is unit-tested without a broker; secrets stay
`SecretStr` until this single point where the client needs them.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    request_timeout_ms: int = 30_000
    # How stale a client's view of topics may get: partitions `corridor apply` adds to a
    # running corridor are produced to and consumed (after a rebalance) within this time.
    metadata_max_age_ms: int = 30_000

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        uses_sasl = self.security_protocol.startswith("SASL")
        if uses_sasl and (self.sasl_mechanism is None or not self.username or not self.password):
            problems.append(f"{self.security_protocol} needs sasl_mechanism, username, password")
        if not uses_sasl and (self.sasl_mechanism or self.username or self.password):
            problems.append(
                f"SASL settings given but security_protocol is {self.security_protocol}"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            problems.append("ssl_certfile and ssl_keyfile go together")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def __repr__(self) -> str:  # the password is a SecretStr already; keep the repr short
        return f"KafkaSettings({self.bootstrap_servers!r}, {self.security_protocol})"


def client_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by aiokafka's producer, consumer and admin client."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": settings.request_timeout_ms,
        "metadata_max_age_ms": settings.metadata_max_age_ms,
    }
    if settings.security_protocol.endswith("SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
        if settings.ssl_certfile and settings.ssl_keyfile:
            context.load_cert_chain(str(settings.ssl_certfile), str(settings.ssl_keyfile))
        kwargs["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        password = settings.password.get_secret_value() if settings.password else ""
        kwargs |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.username,
            "sasl_plain_password": password,
        }
    return kwargs
