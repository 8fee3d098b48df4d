"""Sign-in with the company's identity provider: OpenID Connect, authorization code + PKCE.

``/oidc/login`` sends the browser to the provider with a fresh ``state``, ``nonce`` and
PKCE challenge (kept in Redis, ``sinks.redis_sessions.RedisLogins``); ``/oidc/callback``
takes them back once, trades the code and the PKCE verifier for tokens at the provider
(with the client secret), and checks the ID token with Authlib and joserfc: signature
against the provider's published keys, issuer, audience, expiry, nonce. The token's
e-mail is the person; ``scorers.access.principal_for_email`` says what they may see.
Nothing of the protocol is written by hand here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import httpx
import structlog
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from schemas.access import PendingLogin
from schemas.settings import Settings
from streams.web.signin import local, new_session, start_session

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

LOGIN_TTL_S: Final = 600
"""A person has this long at the provider before the sign-in must start again."""
HTTP_TIMEOUT_S: Final = 10.0
SCOPE: Final = "openid email profile"
ALGORITHMS: Final = ["RS256", "ES256", "PS256", "EdDSA"]
"""Asymmetric only: an HS256 token would be signed with our own client secret."""
CLOCK_LEEWAY_S: Final = 60


class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in; the text says why (never a token)."""


@dataclass(frozen=True, slots=True)
class Provider:
    """The provider's endpoints, from its discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcClient:
    """One identity provider, as configured; discovery and keys are fetched when needed."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None and settings.oidc_client_secret is not None
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret.get_secret_value()
        self._provider: Provider | None = None
        self._keys: KeySet | None = None

    async def provider(self) -> Provider:
        if self._provider is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            meta = await _get_json(url)
            if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInFailed(f"{url} names issuer {meta.get('issuer')!r}, not ours")
            try:
                self._provider = Provider(
                    meta["issuer"], meta["authorization_endpoint"], meta["token_endpoint"],
                    meta["jwks_uri"],
                )  # fmt: skip
            except KeyError as exc:
                raise SignInFailed(f"{url} lacks {exc}") from None
        return self._provider

    async def login_url(self, redirect_uri: str, state: str, login: PendingLogin) -> str:
        provider = await self.provider()
        return str(
            prepare_grant_uri(
                provider.authorization_endpoint,
                self.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=SCOPE,
                state=state,
                nonce=login.nonce,
                code_challenge=create_s256_code_challenge(login.code_verifier),
                code_challenge_method="S256",
            )
        )

    async def email(self, code: str, redirect_uri: str, login: PendingLogin) -> str:
        """Trade ``code`` for tokens; the checked ID token's e-mail."""
        provider = await self.provider()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": login.code_verifier}  # fmt: skip
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            answer = await client.post(
                provider.token_endpoint, data=form, auth=(self.client_id, self._secret)
            )
        if answer.status_code != 200:
            raise SignInFailed(f"the provider refused the code ({answer.status_code})")
        id_token = _json(answer).get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the provider's answer holds no id_token")
        claims = await self._checked(provider, id_token, login.nonce)
        email = claims.get("email")
        if not isinstance(email, str) or not email or claims.get("email_verified") is False:
            raise SignInFailed("the ID token holds no verified e-mail (ask for scope email)")
        return email

    async def _checked(self, provider: Provider, id_token: str, nonce: str) -> CodeIDToken:
        token = None
        for attempt in (1, 2):
            if attempt == 2:
                self._keys = None  # the provider may have rotated its keys: fetch them again
            try:
                token = jwt.decode(id_token, await self._key_set(provider), algorithms=ALGORITHMS)
                break
            except JoseError as exc:
                error = exc.error
        if token is None:
            raise SignInFailed(f"the ID token does not verify ({error})")
        options = {"iss": {"essential": True, "value": provider.issuer},
                   "aud": {"essential": True, "value": self.client_id}}  # fmt: skip
        claims = CodeIDToken(token.claims, token.header, options, {"nonce": nonce})
        try:
            claims.validate(now=int(time.time()), leeway=CLOCK_LEEWAY_S)
        except JoseError as exc:
            raise SignInFailed(f"the ID token is not for this sign-in ({exc.error})") from None
        return claims

    async def _key_set(self, provider: Provider) -> KeySet:
        if self._keys is None:
            self._keys = KeySet.import_key_set(await _get_json(provider.jwks_uri))  # type: ignore[arg-type]
        return self._keys


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            answer = await client.get(url)
    except httpx.HTTPError as exc:
        raise SignInFailed(f"the identity provider at {url} does not answer ({exc})") from None
    if answer.status_code != 200:
        raise SignInFailed(f"{url} answered {answer.status_code}")
    return _json(answer)


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        raise SignInFailed(f"{answer.url} did not answer JSON") from None
    if not isinstance(body, dict):
        raise SignInFailed(f"{answer.url} did not answer a JSON object")
    return body


@router.get("/oidc/login")
async def oidc_login(request: Request, next: str = "/") -> Response:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        return _failed(request, "Sign-in with an identity provider is not set up here.", 404)
    state = generate_token(32)
    login = PendingLogin(nonce=generate_token(32), code_verifier=generate_token(64),
                         next=local(next))  # fmt: skip
    try:
        url = await client.login_url(_callback(request), state, login)
    except SignInFailed as exc:
        log.warning("access.oidc_unavailable", error=str(exc))
        return _failed(request, "The identity provider does not answer; try again shortly.", 503)
    await request.app.state.identities.logins.put(state, login, LOGIN_TTL_S)
    return RedirectResponse(url, status_code=303)


@router.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    client: OidcClient | None = request.app.state.oidc
    if client is None:
        return _failed(request, "Sign-in with an identity provider is not set up here.", 404)
    login = await request.app.state.identities.logins.take(state) if state else None
    if login is None or not code:
        request.app.state.limiter.failed(request.client.host if request.client else "?")
        log.info("access.signin_refused", via="oidc", reason="unknown or used state")
        return _failed(request, "This sign-in expired or was already used; sign in again.", 400)
    try:
        email = await client.email(code, _callback(request), login)
    except SignInFailed as exc:
        log.warning("access.signin_refused", via="oidc", reason=str(exc))
        return _failed(request, "The identity provider's answer could not be checked.", 400)
    who = await request.app.state.identities.from_email(email)
    if who is None:
        log.info("access.signin_refused", via="oidc", who=email, reason="no role")
        return _failed(
            request,
            f"{email} has no role here: ask an admin to add you to the CRM's directory"
            " (your e-mail on your rep record) or to SCORESTREAM_WEB_ADMINS.",
            403,
        )
    return await start_session(request, new_session(request, email=email), who, login.next)


def _callback(request: Request) -> str:
    """Where the provider sends the browser back: this server's own callback URL (https
    behind a TLS proxy that says so)."""
    return str(request.url_for("oidc_callback"))


def _failed(request: Request, message: str, status: int) -> Response:
    from streams.web.pages import error_page  # the pages import the access rules

    return error_page(request, status, message)
