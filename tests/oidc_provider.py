"""A small OpenID provider for tests, on loopback: discovery, keys, authorize, token.

Built from the packages ``serve`` itself uses (Authlib's PKCE helper, joserfc to sign), it
signs in whoever ``email`` names without asking (the test decides who signs in), checks
what a real provider checks (client, redirect URI, PKCE verifier, one use per code), and
can be told to misbehave (``claims`` overrides, a foreign signing key) so tests see
``serve`` refuse a bad ID token.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "scorestream-test"
CLIENT_SECRET = "test-client-secret-0123456789"


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})


@dataclass
class OpenIdProvider:
    base: str = ""
    """Its URL once served (the issuer)."""
    email: str = "ana@x.com"
    """Who signs in next."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims put over the ID token's own (a misbehaving provider)."""
    key: RSAKey = field(default_factory=new_key)
    """The key it publishes."""
    signer: RSAKey | None = None
    """The key it signs with, when not ``key`` (a forged token)."""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    """Every authorization request's parameters, for the test to inspect."""

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])  # fmt: skip

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.base, "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token", "jwks_uri": f"{self.base}/jwks",
            "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })  # fmt: skip

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.requests.append(params)
        if params.get("client_id") != CLIENT_ID or params.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "why": "PKCE"}, status_code=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {**params, "email": self.email}
        back = {"code": code, "state": params.get("state", "")}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(form.get("code", ""), None)  # one use per code
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = form.get("code_verifier", "")
        if create_s256_code_challenge(verifier) != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "why": "PKCE"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.base, "sub": grant["email"], "aud": CLIENT_ID, "iat": now,
                  "exp": now + 300, "nonce": grant.get("nonce"), "email": grant["email"],
                  "email_verified": True, **self.claims}  # fmt: skip
        signer = self.signer or self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, signer)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": id_token})
