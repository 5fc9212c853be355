"""HTTP client for the Confluent Schema Registry REST API (also served by Karapace, Apicurio's
`/apis/ccompat/v7`, Redpanda): what a node needs to run with Confluent framing.

- `register(subject, schema)`: `POST /subjects/{subject}/versions` -> the global schema id
  (registering the same schema again returns the same id);
- `get(schema_id)`: `GET /schemas/ids/{id}` -> the schema text;
- `lookup(subject, schema)`: `POST /subjects/{subject}` -> the id, or None if not registered;
- `check_compatibility(subject, schema)`:
  `POST /compatibility/subjects/{subject}/versions/latest?verbose=true` -> a `Compatibility`.

Subjects come from a `SubjectNameStrategy` (Confluent's names): `topic` (TopicNameStrategy,
`<topic>-value`, the default), `record` (RecordNameStrategy, the record's full name) and
`topic-record` (TopicRecordNameStrategy, `<topic>-<full name>`). Corridor inboxes carry two
record types (declarations and receipts): under TopicNameStrategy both go to one subject, which
a registry with the default BACKWARD compatibility refuses; the error says so, and `topic-record`
is the strategy for such topics (docs/schemas.md).

Blocking and stdlib-only (`urllib`): the codec asks once per schema and caches the answer, so the
calls stay off the per-message path. Failures are `SchemaRegistryError`s carrying the registry's
`error_code`; unreachable registries and 5xx answers are `SchemaRegistryUnavailable`
(`retriable`), so that a receiver holds the record instead of rejecting it.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from pydantic import SecretStr

from broker.codec.subjects import SubjectNameStrategy
from broker.errors import CodecError

CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"
MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024  # a schema is a few kB; refuse a flood
SUBJECT_NOT_FOUND: Final = 40401
SCHEMA_NOT_FOUND: Final = 40403


class SchemaRegistryError(CodecError):
    """The registry refused a request (`error_code`: the registry's code, or the HTTP status)."""

    def __init__(self, message: str, error_code: int | None = None) -> None:
        self.error_code = error_code
        super().__init__(message)


class SchemaRegistryUnavailable(SchemaRegistryError):
    """The registry could not be reached or failed (5xx): try again later."""

    retriable: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Compatibility:
    compatible: bool
    messages: tuple[str, ...] = ()


class ConfluentSchemaRegistry:
    """A `SchemaRegistryClient` over HTTP (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        subject_strategy: SubjectNameStrategy = SubjectNameStrategy.TOPIC,
        username: str | None = None,
        password: SecretStr | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SchemaRegistryError(
                f"schema registry URL {url!r} is not http(s)://host[:port]/..."
            )
        self.url = url.rstrip("/")
        self.subject_strategy = subject_strategy
        self._timeout_s = timeout_s
        self._authorization: str | None = None
        if username is not None:
            secret = password.get_secret_value() if password is not None else ""
            token = base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")
            self._authorization = f"Basic {token}"

    def __repr__(self) -> str:  # never the credentials
        return f"ConfluentSchemaRegistry({self.url!r}, strategy={self.subject_strategy})"

    # ------------------------------------------------------------------ the API
    def register(self, subject: str, schema: str) -> int:
        answer = self._call("POST", f"/subjects/{_quote(subject)}/versions", {"schema": schema})
        return _schema_id(answer, "register")

    def get(self, schema_id: int) -> str:
        answer = self._call("GET", f"/schemas/ids/{int(schema_id)}")
        text = answer.get("schema")
        if not isinstance(text, str):
            raise SchemaRegistryError(f"schema id {schema_id}: the answer holds no schema")
        if answer.get("schemaType", "AVRO") != "AVRO":
            raise SchemaRegistryError(f"schema id {schema_id} is {answer['schemaType']}, not Avro")
        return text

    def lookup(self, subject: str, schema: str) -> int | None:
        try:
            answer = self._call("POST", f"/subjects/{_quote(subject)}", {"schema": schema})
        except SchemaRegistryError as exc:
            if exc.error_code in (SUBJECT_NOT_FOUND, SCHEMA_NOT_FOUND):
                return None
            raise
        return _schema_id(answer, "lookup")

    def check_compatibility(self, subject: str, schema: str) -> Compatibility:
        """Whether `schema` may be registered under `subject` (the subject's own rule)."""
        path = f"/compatibility/subjects/{_quote(subject)}/versions/latest?verbose=true"
        try:
            answer = self._call("POST", path, {"schema": schema})
        except SchemaRegistryError as exc:
            if exc.error_code == SUBJECT_NOT_FOUND:  # nothing registered yet: anything goes
                return Compatibility(True)
            raise
        messages = answer.get("messages") or ()
        return Compatibility(
            answer.get("is_compatible") is True, tuple(str(m) for m in messages)[:20]
        )

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310 - http(s) only, checked in __init__
        request.add_header("Accept", CONTENT_TYPE)
        if data is not None:
            request.add_header("Content-Type", CONTENT_TYPE)
        if self._authorization is not None:
            request.add_header("Authorization", self._authorization)
        where = f"schema registry {method} {path.split('?')[0]}"
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310 - see above
                return _json_object(response.read(MAX_RESPONSE_BYTES + 1), where)
        except urllib.error.HTTPError as exc:
            raise _refusal(exc, where) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise SchemaRegistryUnavailable(f"{where}: unreachable: {exc}") from exc


def _quote(subject: str) -> str:
    return urllib.parse.quote(subject, safe="")


def _json_object(raw: bytes, where: str) -> dict[str, Any]:
    if len(raw) > MAX_RESPONSE_BYTES:
        raise SchemaRegistryError(f"{where}: answer over {MAX_RESPONSE_BYTES} bytes")
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise SchemaRegistryError(f"{where}: the answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise SchemaRegistryError(f"{where}: the answer is not a JSON object")
    return answer


def _refusal(exc: urllib.error.HTTPError, where: str) -> SchemaRegistryError:
    try:
        answer = _json_object(exc.read(MAX_RESPONSE_BYTES + 1), where)
    except SchemaRegistryError:
        answer = {}
    code = answer.get("error_code")
    code = code if isinstance(code, int) else exc.code
    message = str(answer.get("message") or exc.reason)[:500]
    hint = ""
    if exc.code == 409:
        hint = (
            " (an incompatible schema; with TopicNameStrategy every record type of a topic "
            'shares one subject: use subject_strategy = "topic-record" for the inboxes)'
        )
    cls = SchemaRegistryUnavailable if exc.code >= 500 else SchemaRegistryError
    return cls(f"{where}: HTTP {exc.code}, error {code}: {message}{hint}", code)


def _schema_id(answer: dict[str, Any], what: str) -> int:
    schema_id = answer.get("id")
    if not isinstance(schema_id, int) or isinstance(schema_id, bool) or schema_id < 0:
        raise SchemaRegistryError(f"schema registry {what}: the answer holds no schema id")
    return schema_id
