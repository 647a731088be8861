"""Client authentication at the token endpoint: client_secret_basic, client_secret_post,
or none (public clients, which prove themselves with PKCE instead)."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote

from fastapi import Request

from devtenant.config import Client, Registry
from devtenant.errors import InvalidClient, InvalidRequest

BASIC = "basic "
WRONG_CLIENT = "Unknown client or wrong client credentials."


def _basic_credentials(header: str) -> tuple[str, str]:
    """client_id and secret from `Authorization: Basic ...` (form-urlencoded, RFC 6749 2.3.1)."""
    if not header.lower().startswith(BASIC):
        raise InvalidClient("Only Basic client authentication is supported in the header.")
    try:
        decoded = base64.b64decode(header[len(BASIC) :].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("Malformed Basic client credentials.") from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise InvalidClient("Malformed Basic client credentials.")
    return unquote(client_id), unquote(secret)


def authenticate(registry: Registry, request: Request, form: dict[str, str]) -> Client:
    """The client making this token request, once its credentials check out."""
    header = request.headers.get("authorization")
    if header:
        if "client_secret" in form:
            raise InvalidRequest("Use exactly one client authentication method.")
        client_id, secret = _basic_credentials(header)
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequest("client_id does not match the client credentials.")
    else:
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")  # type: ignore[assignment]
    client = registry.client(client_id)
    if client is None:
        raise InvalidClient(WRONG_CLIENT)
    if client.is_public:
        if secret:
            raise InvalidClient("Public clients do not have a client secret.")
        return client
    expected = client.client_secret or ""
    if secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise InvalidClient(WRONG_CLIENT)
    return client
