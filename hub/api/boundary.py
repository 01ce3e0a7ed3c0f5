"""What every request meets before a router: a bounded body, JSON the database can store, and errors that say
what is wrong without repeating what was sent.

- `BodyLimit` answers 413 as soon as a body is known to exceed the limit (from Content-Length, or while it
  streams in), before anything parses it; nothing else waits behind a huge upload.
- `check_json` refuses, for every JSON body, what JSON allows but the hub cannot keep: NaN and infinities,
  integers outside SQL's 64 bits, lone UTF-16 surrogates, and nesting deeper than any schema of the hub's.
- Validation errors list where and what (`loc`, `msg`, `type`), never the input: a 30 MB body is not echoed.
- A number, time or text that still proves out of range deeper down (e.g. a 2^63 id in a path, a datetime
  that overflows when converted to UTC) is a 422 too, never a 500.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy.exc import StatementError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

INT64_MAX = 2**63 - 1
MAX_DEPTH = 32

#: A row id in a path: positive and within SQL's BIGINT.
Id = Annotated[int, Path(ge=1, le=INT64_MAX)]


class BodyError(ValueError):
    """A JSON body the hub cannot keep; the message says why without quoting it."""


def _utc(moment: dt.datetime) -> dt.datetime:
    try:
        return moment.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


#: A datetime with its time zone, converted to UTC (refused if that conversion leaves the calendar).
Moment = Annotated[AwareDatetime, AfterValidator(_utc)]


# ---------------------------------------------------------------- the body's size


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, decided before the application reads it.
    `larger` gives paths under a prefix a limit of their own (clip uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None):
        self.app, self.max_bytes, self.larger = app, max_bytes, dict(larger or {})

    def _limit(self, path: str) -> int:
        return next((limit for prefix, limit in self.larger.items() if path.startswith(prefix)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, limit)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except _TooLarge:
            await self._too_large(send, limit)

    async def _too_large(self, send: Send, limit: int) -> None:
        response = JSONResponse({"detail": f"request body larger than {limit} bytes"}, status_code=413)
        await response(_HTTP_SCOPE, _no_body, send)


class _TooLarge(Exception):
    pass


_HTTP_SCOPE: Scope = {"type": "http"}


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


# ---------------------------------------------------------------- what JSON may hold


def _refuse_constant(name: str) -> Any:
    raise BodyError(f"{name} is not a number the hub accepts")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BodyError("a number in the body is too large")
    return value


def _walk(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise BodyError(f"the body is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise BodyError("an integer in the body is out of range (64 bits at most)")
    elif isinstance(value, str):
        _text(value)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(key)
            _walk(item, depth + 1)


def _text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError("text in the body is not valid Unicode (a lone surrogate)") from None


def check_json(body: bytes) -> None:
    """BodyError if `body` (JSON) holds what the hub cannot keep; malformed JSON is left to FastAPI's own error."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, BodyError):
            raise
        return
    _walk(value)


class JsonGuard:
    """ASGI middleware: every JSON request body passes `check_json` (422 otherwise) before a router sees it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        try:
            check_json(body)
        except BodyError as exc:
            await JSONResponse({"detail": str(exc)}, status_code=422)(scope, _no_body, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would read this request's body as JSON: no content type, or application/json or */*+json."""
    if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = dict(scope.get("headers") or []).get(b"content-type")
    if content_type is None:
        return True
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))


# ---------------------------------------------------------------- errors


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in exc.errors()[:20]]
    return JSONResponse({"detail": detail}, status_code=422)


def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    if isinstance(cause, UnicodeError):
        what = "text in the request is not valid Unicode"
    else:
        what = "a number or time in the request is out of range"
    log.info("%s %s refused: %s (%s)", request.method, request.url.path, what, type(cause).__name__)
    return JSONResponse({"detail": what}, status_code=422)


def _statement_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StatementError)
    if isinstance(exc.orig, (OverflowError, UnicodeError)) or type(exc.orig).__name__ == "NumericValueOutOfRange":
        return _out_of_range(request, exc)
    raise exc


def install(app: FastAPI, *, max_body_bytes: int, larger_bodies: dict[str, int] | None = None) -> None:
    """The boundary on `app`: middleware (outermost first: size, then JSON) and the error handlers;
    `larger_bodies` maps path prefixes to limits of their own."""
    app.add_middleware(JsonGuard)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, larger=larger_bodies)  # added last: runs first
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(UnicodeError, _out_of_range)
    app.add_exception_handler(StatementError, _statement_error)
