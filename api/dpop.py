"""Which requests need a DPoP proof, and whether the token is bound to its key (RFC 9449).

The API's `DPOP_MODE` decides, as express-oauth2-jwt-bearer's `dpop` option does:
- `allowed` (default): Bearer and DPoP tokens are both accepted.  A request is held to
  DPoP when it says so (the `DPoP` scheme or a `DPoP` header) or when its token is bound
  to a key (`cnf.jkt`), and a bound token presented as Bearer is refused: whoever copied
  it out of a session store cannot use it without the private key.
- `required`: every request must use the DPoP scheme with a proof; Bearer is refused.
- `disabled`: Bearer only, as before RFC 9449; `DPoP` headers are ignored.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from api.bearer import Credentials
from api.config import DpopMode
from api.errors import InvalidDpopProof, InvalidRequest, InvalidToken
from api.proof import ProofVerifier, normalize_url


class DpopPolicy:
    """Applies one DPoP mode to requests; proofs are checked by `ProofVerifier`."""

    def __init__(self, mode: DpopMode, proofs: ProofVerifier) -> None:
        self.mode = mode
        self._proofs = proofs

    def check_request(self, request: Request, credentials: Credentials) -> None:
        """Before the token is verified: the request's shape, where the mode decides it."""
        if self.mode == "required":
            _proof_header(request, credentials)
        elif credentials.scheme == "dpop" and "dpop" not in request.headers:
            raise InvalidRequest("The DPoP scheme needs a DPoP proof header")

    def check_binding(
        self, request: Request, credentials: Credentials, claims: dict[str, Any]
    ) -> None:
        """After the token is verified: its binding to the request's proof, if needed."""
        if self.mode == "disabled":
            return
        bound = isinstance(claims.get("cnf"), dict) and "jkt" in claims["cnf"]
        if credentials.scheme == "bearer" and bound and self.mode == "allowed":
            raise InvalidToken("A DPoP-bound token must use the DPoP scheme, not Bearer")
        needs_proof = self.mode == "required" or credentials.scheme == "dpop"
        if not (needs_proof or bound or "dpop" in request.headers):
            return
        proof = _proof_header(request, credentials)
        self._proofs.verify(
            proof,
            method=request.method,
            url=request_url(request),
            token=credentials.token,
            jkt=_confirmation(claims),
        )


def _proof_header(request: Request, credentials: Credentials) -> str:
    """The request's one DPoP proof, sent with a DPoP-scheme token (RFC 9449 §4.3 1-2)."""
    proofs = request.headers.getlist("dpop")
    if credentials.scheme != "dpop":
        if proofs:
            raise InvalidRequest("A DPoP proof needs the DPoP scheme, not Bearer")
        raise InvalidRequest("This API needs a DPoP-bound token with the DPoP scheme")
    if len(proofs) > 1 or any("," in proof for proof in proofs):
        raise InvalidDpopProof("Send exactly one DPoP proof")
    if not proofs or not proofs[0]:
        raise InvalidRequest("The DPoP scheme needs a DPoP proof header")
    return proofs[0]


def _confirmation(claims: dict[str, Any]) -> str:
    """The token's `cnf.jkt`: the thumbprint of the key it is bound to."""
    cnf = claims.get("cnf")
    if cnf is None or (isinstance(cnf, dict) and "jkt" not in cnf):
        raise InvalidToken("The access token is not bound to a DPoP key")
    if not isinstance(cnf, dict) or not isinstance(cnf["jkt"], str) or not cnf["jkt"]:
        raise InvalidToken("The access token's cnf claim is malformed")
    return cnf["jkt"]


def request_url(request: Request) -> str:
    """The URL the client addressed (Host header and raw path), as `htu` must name it."""
    host = request.headers.get("host", "")
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    if path.startswith("//"):
        raise InvalidRequest("The request URL is malformed")
    # The scheme as `request.url` would give it, without building that whole URL.
    return normalize_url(f"{scope.get('scheme', 'http')}://{host}{path}")
