"""The gateway's routes: our own contract, the CRMs' hooks, health and metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.ingest import IngestAnswer, Problem
from scorers.ingest import salesforce
from scorers.ingest.body import JSON, NDJSON, BodyNotJson, TooManyEvents, check_count, parse_body
from scorers.ingest.mapping import apply_mapping
from scorers.ingest.signatures import Verdict, check_hubspot_v3, matches_any
from streams.ingest.gateway import RETRY_AFTER_S, Gateway, Refusal, key_id
from streams.ingest.hooks import Hook

router = APIRouter()

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text}
    for status, text in {
        400: "The body is not JSON (or not the CRM's format): nothing was stored.",
        401: "No valid key or signature: nothing was stored.",
        404: "No such hook (or its secret is not set on the gateway).",
        413: "The body is over the size or event limit: nothing was stored; split it.",
        415: "Another content type: send application/json or application/x-ndjson.",
        429: "Past the key's rate: nothing was stored; retry after Retry-After seconds.",
        503: "Kafka did not take the events in time: retry the same request after"
        " Retry-After seconds (repeated event ids are dropped, so nothing doubles).",
    }.items()
}


_EVENT: dict[str, Any] = {"$ref": "#/components/schemas/Event"}


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _bearer(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return request.headers.get("x-scorestream-key") or None


@router.post(
    "/v1/events",
    response_model=IngestAnswer,
    responses=_PROBLEMS,
    summary="Post CRM events in our contract",
    openapi_extra={"requestBody": {"required": True, "content": {
        JSON: {"schema": {"oneOf": [_EVENT, {"type": "array", "items": _EVENT}]}},
        NDJSON: {"schema": {"type": "string", "description": "One event (JSON) a line."}},
    }}},
)  # fmt: skip
async def post_events(request: Request) -> Response:
    """One event, a JSON array of them, or NDJSON (one a line, blank lines ignored), with
    ``Authorization: Bearer KEY``. ``200`` only once Kafka has every accepted event; each
    refused one is named by its line."""
    gateway = _gateway(request)
    key = _bearer(request)
    if key is None or not matches_any(key, gateway.keys):
        raise Refusal(401, "send an ingest key as `Authorization: Bearer KEY`"
                      " (SCORESTREAM_INGEST_KEYS on the gateway)")  # fmt: skip
    gateway.limit(key_id(key))
    media_type = _media_type(request)
    if media_type not in (JSON, NDJSON):
        raise Refusal(415, f"content type {media_type or 'none'!r}: send {JSON} (an event or an"
                      f" array of events) or {NDJSON} (one event a line)")  # fmt: skip
    body = await gateway.read_body(request)
    parsed = _parsed(lambda: parse_body(body, media_type, gateway.settings.ingest_max_events))
    answer = await gateway.store(parsed, "events")
    return JSONResponse(answer.model_dump(mode="json"))


@router.post(
    "/v1/hooks/{source}",
    response_model=IngestAnswer,
    responses=_PROBLEMS,
    summary="Post a CRM's own webhook payload, turned into events by its mapping",
)
async def post_hook(source: str, request: Request) -> Response:
    """HubSpot (request signature v3), Salesforce (Outbound Message or Flow JSON, with
    ``?key=``) and any source a mapping adds. The signature or secret is checked before the
    body is parsed; a Salesforce Outbound Message is answered with its SOAP ``Ack``."""
    gateway = _gateway(request)
    hook = gateway.hooks.get(source)
    if hook is None:
        raise Refusal(404, f"no hook {source!r} is served here")
    body = await gateway.read_body(request)
    signature = _authenticate(hook, request, body, gateway)
    gateway.limit(f"hook:{source}")
    if not gateway.directory.ready:
        raise Refusal(503, gateway.directory.problem, retry_after_s=RETRY_AFTER_S)
    xml = hook.mapping.format == "salesforce_outbound" and "xml" in _media_type(request)
    payload = _parsed(lambda: salesforce.outbound_records(body) if xml else _json(body))
    parsed = apply_mapping(hook.mapping, payload, gateway.directory.directory)
    limit = gateway.settings.ingest_max_events
    _parsed(lambda: check_count(len(parsed.events) + len(parsed.rejected), limit))
    answer = await gateway.store(parsed, source)
    if signature is not None:
        gateway.remember(signature)
    if xml:
        return Response(salesforce.ACK, media_type="text/xml")
    return JSONResponse(answer.model_dump(mode="json"))


def _authenticate(hook: Hook, request: Request, body: bytes, gateway: Gateway) -> str | None:
    """401 unless the request proves its source; the signature, when there is one."""
    auth = hook.mapping.auth
    if auth.scheme == "shared_secret":
        given = _bearer(request) or request.query_params.get("key")
        if given is None or not matches_any(given, hook.secrets):
            raise Refusal(401, f"send the {hook.mapping.source} secret ({auth.secret_env}) as"
                          " `Authorization: Bearer`, `X-Scorestream-Key` or `?key=`")  # fmt: skip
        return None
    signature = request.headers.get("x-hubspot-signature-v3")
    verdict = check_hubspot_v3(
        hook.secrets, method=request.method, uri=_public_uri(request, gateway), body=body,
        timestamp=request.headers.get("x-hubspot-request-timestamp"), signature=signature,
        now_ms=int(time.time() * 1000),
    )  # fmt: skip
    if verdict is Verdict.OK and signature is not None and gateway.first_use(signature):
        return signature
    reasons = {
        Verdict.MISSING: "no X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp headers",
        Verdict.WRONG: "the X-HubSpot-Signature-v3 signature does not match",
        Verdict.STALE: "X-HubSpot-Request-Timestamp is more than 5 minutes from now",
        Verdict.OK: "this signed request was already received (a replay)",
    }
    raise Refusal(401, reasons[verdict])


def _public_uri(request: Request, gateway: Gateway) -> str:
    """The URL the CRM called: behind a proxy, SCORESTREAM_INGEST_PUBLIC_URL's origin."""
    base = gateway.settings.ingest_public_url
    if base is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyNotJson(f"the body is not JSON: {exc.msg}", exc.lineno, exc.colno) from None


def _parsed(parse: Any) -> Any:
    """``parse()``, its body errors as 400 and 413."""
    try:
        return parse()
    except BodyNotJson as exc:
        raise Refusal(400, str(exc), line=exc.line, column=exc.column) from None
    except TooManyEvents as exc:
        raise Refusal(413, str(exc)) from None
    except salesforce.NotOutboundMessage as exc:
        raise Refusal(400, str(exc)) from None


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> Response:
    gateway = _gateway(request)
    producer = gateway.producer
    down = producer.brokers_down and not await asyncio.to_thread(producer.brokers_reachable)
    kafka = "down" if down else "up"
    body = {"status": "ok" if kafka == "up" else "unavailable", "kafka": kafka,
            "directory": "ready" if gateway.directory.ready else "loading"}  # fmt: skip
    return JSONResponse(body, status_code=200 if kafka == "up" else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    data = generate_latest(_gateway(request).metrics.registry)
    return PlainTextResponse(data, media_type=CONTENT_TYPE_LATEST)
