"""Stable reason codes: `SignatureError.code` for messages, `Problem.code` for PKI files.

They are part of the wire contract: receipts and dead letters quote them, dashboards count them,
so a code is never renamed. `docs/signing.md` lists the order in which the verifier checks them.
"""

from __future__ import annotations

from enum import StrEnum

from broker.errors import ConfigError, Problem


class Reason(StrEnum):
    """Why a message or key announcement was refused (`SignatureError.code`)."""

    MALFORMED_ENVELOPE = "malformed-envelope"
    UNKNOWN_KEY_ID = "unknown-key-id"
    UNTRUSTED_CHAIN = "untrusted-chain"
    CERTIFICATE_NOT_VALID_AT_TIME = "certificate-not-valid-at-time"
    COUNTRY_MISMATCH = "country-mismatch"
    SOURCE_MISMATCH = "source-mismatch"
    REVOKED = "revoked"
    BAD_SIGNATURE = "bad-signature"
    WRONG_RECIPIENT = "wrong-recipient"
    CLOCK_SKEW = "clock-skew"
    TOO_OLD = "too-old"
    REPLAY = "replay"
    UNSEAL_FAILED = "unseal-failed"
    MALFORMED_ANNOUNCEMENT = "malformed-announcement"


class ConfigCode(StrEnum):
    """`Problem.code` of the `ConfigError`s raised for keys, certificates and secrets."""

    KEY_FILE_PERMISSIONS = "key-file-permissions"
    KEY_FILE_INVALID = "key-file-invalid"
    FILE_EXISTS = "file-exists"
    FILE_IO = "file-io"
    WRONG_PASSPHRASE = "wrong-passphrase"  # noqa: S105 - a code, not a secret
    PASSPHRASE_MISSING = "passphrase-missing"  # noqa: S105 - a code, not a secret
    PASSPHRASE_WEAK = "passphrase-weak"  # noqa: S105 - a code, not a secret
    BAD_CERTIFICATE = "bad-certificate"
    BAD_ARGUMENT = "bad-argument"


def config_error(code: ConfigCode, source: object, reason: str) -> ConfigError:
    """A `ConfigError` whose one `Problem` carries the stable `code`."""
    return ConfigError(f"{source}: {reason}", [Problem(reason, source=str(source), code=code)])
