"""Private keys at rest: encrypted PKCS#8 PEM files that only their owner can read.

A key file is created with mode 0600 (exclusively: an existing key is never overwritten) and
refused on read when the group or others may read it, the way ssh treats identity files. The
passphrase travels as a pydantic `SecretStr`, so a repr, a log record or a traceback shows
`'**********'` and never the secret; it is unwrapped only at the call into `cryptography`.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import SecretStr

from broker.signing.algorithms import SigningKey
from broker.signing.reasons import ConfigCode, config_error

log = logging.getLogger(__name__)

DEFAULT_PASSPHRASE_ENV = "ILSTC_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
MIN_PASSPHRASE_LENGTH = 12
OWNER_ONLY = 0o600
PUBLIC = 0o644

PrivateKey = SigningKey | x25519.X25519PrivateKey


def _checked(passphrase: str, origin: str) -> SecretStr:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise config_error(
            ConfigCode.PASSPHRASE_WEAK,
            origin,
            f"passphrase shorter than {MIN_PASSPHRASE_LENGTH} characters",
        )
    return SecretStr(passphrase)


def passphrase_from_env(
    name: str = DEFAULT_PASSPHRASE_ENV, environ: Mapping[str, str] | None = None
) -> SecretStr:
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise config_error(
            ConfigCode.PASSPHRASE_MISSING, f"${name}", "environment variable is not set"
        )
    return _checked(value, f"${name}")


def passphrase_from_file(path: Path) -> SecretStr:
    """Read a secret file (trailing newline dropped); it must be owner-only like a key file."""
    try:
        text = read_owner_only(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise config_error(ConfigCode.PASSPHRASE_WEAK, path, "passphrase is not UTF-8") from exc
    return _checked(text.rstrip("\r\n"), str(path))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise config_error(ConfigCode.FILE_EXISTS, path, "refusing to overwrite") from exc
    except OSError as exc:
        raise config_error(ConfigCode.FILE_IO, path, exc.strerror or "") from exc
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), mode)  # the umask may have changed it; be exact
        out.write(data)


def write_owner_only(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 and write `data`; an existing file is never replaced."""
    _write_new(path, data, OWNER_ONLY)


def write_public_file(path: Path, data: bytes) -> None:
    """Create a certificate or trust list file (mode 0644); an existing file is never replaced."""
    _write_new(path, data, PUBLIC)


def read_owner_only(path: Path) -> bytes:
    """Read a file that must not be readable (or writable) by group or others."""
    try:
        with path.open("rb") as src:
            mode = os.fstat(src.fileno()).st_mode
            if stat.S_IMODE(mode) & 0o077:
                raise config_error(
                    ConfigCode.KEY_FILE_PERMISSIONS,
                    path,
                    f"mode {stat.S_IMODE(mode):04o} lets group/others access it; "
                    f"run `chmod 600 {path}`",
                )
            return src.read()
    except OSError as exc:
        raise config_error(ConfigCode.FILE_IO, path, exc.strerror or "") from exc


def write_private_key(path: Path, key: PrivateKey, passphrase: SecretStr) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.get_secret_value().encode("utf-8")),
    )
    write_owner_only(path, pem)
    log.info("wrote encrypted private key %s", path)


def _read_private_key(path: Path, passphrase: SecretStr) -> PrivateKeyTypes:
    pem = read_owner_only(path)
    try:
        return serialization.load_pem_private_key(
            pem, passphrase.get_secret_value().encode("utf-8")
        )
    except TypeError as exc:  # cryptography's way of saying "this key is not encrypted"
        raise config_error(
            ConfigCode.KEY_FILE_INVALID, path, "private key is not encrypted"
        ) from exc
    except ValueError as exc:
        raise config_error(
            ConfigCode.WRONG_PASSPHRASE, path, "cannot decrypt (wrong passphrase or not a key)"
        ) from exc


def read_signing_key(path: Path, passphrase: SecretStr) -> SigningKey:
    key = _read_private_key(path, passphrase)
    if isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise config_error(ConfigCode.KEY_FILE_INVALID, path, "not an Ed25519 or ECDSA key")


def read_sealing_key(path: Path, passphrase: SecretStr) -> x25519.X25519PrivateKey:
    key = _read_private_key(path, passphrase)
    if isinstance(key, x25519.X25519PrivateKey):
        return key
    raise config_error(ConfigCode.KEY_FILE_INVALID, path, "not an X25519 key")
