"""A small HTTP server implementing the public Confluent Schema Registry REST API (the subset a
serializer uses), for tests: NOT Confluent's server. No real registry could be started here from
the package registries (Karapace has no PyPI distribution; Apicurio Registry's app on Maven Central
lacks its own internal modules; Confluent's server is not on Maven Central), so tests that use
this say "spec server" in their names.

Implemented from https://docs.confluent.io/platform/current/schema-registry/develop/api.html:
`POST /subjects/{s}/versions`, `POST /subjects/{s}`, `GET /schemas/ids/{id}`, `GET /subjects`,
`POST /compatibility/subjects/{s}/versions/latest`, `PUT /config/{s}`; errors as
`{"error_code", "message"}` (40401 subject not found, 40403 schema not found, 409 incompatible,
42201 invalid schema); schema ids global, the same schema under two subjects keeps its id;
compatibility per subject, default BACKWARD (the new schema reads the latest one's data);
optional HTTP basic authentication.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import fastavro

from broker.codec.compatibility import reader_problems


@dataclass
class RegistryState:
    schemas: list[str] = field(default_factory=list)  # id - 1 -> normalized schema text
    subjects: dict[str, list[int]] = field(default_factory=dict)  # subject -> ids, by version
    compatibility: dict[str, str] = field(default_factory=dict)
    credentials: tuple[str, str] | None = None
    fail_with: int | None = None  # answer every request with this HTTP status
    requests: list[str] = field(default_factory=list)


class SpecError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def _normalized(text: Any) -> tuple[str, Any]:
    if not isinstance(text, str):
        raise SpecError(422, 42201, "schema must be a string")
    try:
        definition = json.loads(text)
        parsed = fastavro.parse_schema(definition, named_schemas={})
    except (ValueError, fastavro.schema.SchemaParseException, KeyError, TypeError) as exc:
        raise SpecError(422, 42201, f"Invalid schema: {exc}") from exc
    return json.dumps(definition, sort_keys=True), parsed


def _parsed(text: str) -> Any:
    return fastavro.parse_schema(json.loads(text), named_schemas={})


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        return

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as exc:
            raise SpecError(400, 400, "body is not JSON") from exc
        if not isinstance(body, dict):
            raise SpecError(422, 422, "body is not an object")
        return body

    def _handle(self, method: str) -> None:
        state = self.state
        state.requests.append(f"{method} {self.path}")
        try:
            if state.fail_with is not None:
                raise SpecError(state.fail_with, state.fail_with * 100, "registry failure")
            if state.credentials is not None:
                user, password = state.credentials
                token = base64.b64encode(f"{user}:{password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {token}":
                    raise SpecError(401, 401, "Unauthorized")
            status, body = self._route(method, urlsplit(self.path).path.split("/")[1:])
        except SpecError as exc:
            status, body = exc.status, {"error_code": exc.code, "message": exc.message}
        self._answer(status, body)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _route(self, method: str, parts: list[str]) -> tuple[int, Any]:
        state = self.state
        parts = [unquote(p) for p in parts]
        if method == "GET" and parts == ["subjects"]:
            return 200, sorted(state.subjects)
        if method == "GET" and len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
            schema_id = int(parts[2])
            if not 1 <= schema_id <= len(state.schemas):
                raise SpecError(404, 40403, "Schema not found")
            return 200, {"schema": state.schemas[schema_id - 1]}
        if (
            method == "POST"
            and len(parts) == 3
            and parts[0] == "subjects"
            and parts[2] == "versions"
        ):
            return 200, {"id": self._register(parts[1], self._body().get("schema"))}
        if method == "POST" and len(parts) == 2 and parts[0] == "subjects":
            return 200, self._lookup(parts[1], self._body().get("schema"))
        if method == "POST" and parts[:2] == ["compatibility", "subjects"] and len(parts) == 5:
            return 200, self._compatible(parts[2], self._body().get("schema"))
        if method == "PUT" and len(parts) == 2 and parts[0] == "config":
            level = self._body().get("compatibility")
            if level not in ("NONE", "BACKWARD"):
                raise SpecError(422, 42203, "Invalid compatibility level")
            state.compatibility[parts[1]] = level
            return 200, {"compatibility": level}
        raise SpecError(404, 404, "HTTP 404 Not Found")

    def _register(self, subject: str, text: Any) -> int:
        state = self.state
        normalized, parsed = _normalized(text)
        versions = state.subjects.get(subject, [])
        for schema_id in versions:
            if state.schemas[schema_id - 1] == normalized:
                return schema_id
        if versions and state.compatibility.get(subject, "BACKWARD") == "BACKWARD":
            problems = reader_problems(parsed, _parsed(state.schemas[versions[-1] - 1]))
            if problems:
                raise SpecError(409, 409, "Schema being registered is incompatible: " + problems[0])
        if normalized in state.schemas:
            schema_id = state.schemas.index(normalized) + 1
        else:
            state.schemas.append(normalized)
            schema_id = len(state.schemas)
        state.subjects.setdefault(subject, []).append(schema_id)
        return schema_id

    def _lookup(self, subject: str, text: Any) -> dict[str, Any]:
        state = self.state
        normalized, _ = _normalized(text)
        if subject not in state.subjects:
            raise SpecError(404, 40401, f"Subject '{subject}' not found.")
        for version, schema_id in enumerate(state.subjects[subject], start=1):
            if state.schemas[schema_id - 1] == normalized:
                return {"subject": subject, "id": schema_id, "version": version, "schema": text}
        raise SpecError(404, 40403, "Schema not found")

    def _compatible(self, subject: str, text: Any) -> dict[str, Any]:
        state = self.state
        _, parsed = _normalized(text)
        if subject not in state.subjects:
            raise SpecError(404, 40401, f"Subject '{subject}' not found.")
        latest = _parsed(state.schemas[state.subjects[subject][-1] - 1])
        problems = reader_problems(parsed, latest)
        return {"is_compatible": not problems, "messages": problems}


@contextmanager
def spec_registry(
    credentials: tuple[str, str] | None = None,
) -> Iterator[tuple[str, RegistryState]]:
    """`(url, state)` of a spec server on a free loopback port, stopped afterwards."""
    state = RegistryState(credentials=credentials)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
