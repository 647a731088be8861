"""/authorize and the login page (/u/login): the browser half of the code flow.

Nothing redirects until the client and its redirect_uri are known to be registered; before
that every problem ends on the tenant's own error page, so the tenant can never be used as
an open redirector.  After that, errors go back to the client as Auth0 sends them.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from devtenant.config import Client, User
from devtenant.errors import BadParameters, ErrorPage, RedirectError, redirect_with
from devtenant.grants import TRANSACTION_LIFETIME, AuthorizationRequest, Session, new_secret
from devtenant.params import form_params, query_params, scopes_of
from devtenant.same_origin import check_same_origin
from devtenant.scopes import NOT_AUTHORIZED, lookup, may_request, resolve
from devtenant.tenant import BROWSER_COOKIE, SESSION_COOKIE, TEMPLATES, Tenant, TenantDep

PKCE_METHOD = "S256"
KNOWN_PROMPTS = frozenset({"none", "login", "consent", "select_account"})
WRONG_CREDENTIALS = "Wrong email or password."
EXPIRED_LOGIN = (
    "This login page has expired or was opened in another browser. "
    "Go back to the application and sign in again."
)
# A browser cookie is a token_urlsafe(32): 43 characters.  Anything else gets a new one.
BROWSER_COOKIE_LENGTH = 43

router = APIRouter()


def registered_client(tenant: Tenant, params: dict[str, str]) -> tuple[Client, str]:
    """The client and redirect_uri, or the error page: never redirect to an unknown URL."""
    client = tenant.registry.client(params.get("client_id", ""))
    if client is None:
        raise ErrorPage("Unknown client: check the client_id the application sends.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.callbacks:
        raise ErrorPage("The redirect_uri is not one of this application's Allowed Callback URLs.")
    return client, redirect_uri


def parse_request(tenant: Tenant, params: dict[str, str]) -> AuthorizationRequest:
    client, redirect_uri = registered_client(tenant, params)
    state = params.get("state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, error, description, state)

    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if params.get("response_mode", "query") != "query":
        raise fail("invalid_request", "Only response_mode=query is supported.")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is not None:
        if method != PKCE_METHOD:
            raise fail("invalid_request", "code_challenge_method must be S256.")
        if not CODE_CHALLENGE_PATTERN.match(challenge):
            raise fail("invalid_request", "code_challenge is malformed.")
    elif method is not None:
        raise fail("invalid_request", "code_challenge_method without code_challenge.")
    elif client.is_public:
        raise fail("invalid_request", "Public clients must use PKCE with S256.")
    audience = params.get("audience") or None
    api = lookup(tenant.registry, audience)
    if audience is not None and api is None:
        raise fail("access_denied", "Service not found: the audience is not a registered API.")
    if api is not None and not may_request(client, api, tenant.settings.management_audience):
        raise fail("access_denied", NOT_AUTHORIZED)
    prompts = set(scopes_of(params.get("prompt")))
    if not prompts <= KNOWN_PROMPTS:
        raise fail("invalid_request", "Unsupported prompt value.")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes_of(params.get("scope")),
        audience=audience,
        state=state,
        nonce=params.get("nonce"),
        code_challenge=challenge,
        screen_hint=params.get("screen_hint"),
    )


def code_redirect(tenant: Tenant, request: AuthorizationRequest, session: Session) -> Response:
    """Send the user back to the client with a code for what they may be granted."""
    user = tenant.registry.user(session.user_id)
    api = lookup(tenant.registry, request.audience)
    granted = replace(request, scopes=resolve(api, user, request.scopes).scopes)
    params = {"code": tenant.grants.issue_code(granted, session)}
    if request.state is not None:
        params["state"] = request.state
    return redirect_with(request.redirect_uri, params)


def login_page(
    request: Request,
    tenant: Tenant,
    transaction_id: str,
    auth_request: AuthorizationRequest,
    *,
    error: str | None = None,
    email: str = "",
) -> Response:
    client = tenant.registry.client(auth_request.client_id)
    context = {
        "transaction_id": transaction_id,
        "client_id": auth_request.client_id,
        "client_name": (client.name or client.client_id) if client else "",
        "signup": auth_request.screen_hint == "signup",
        "users": tenant.registry.users,
        "picture": tenant.users.picture,
        "error": error,
        "email": email,
    }
    return TEMPLATES.TemplateResponse(request, "login.html", context)


def set_cookie(tenant: Tenant, response: Response, name: str, value: str, max_age: int) -> None:
    """An HttpOnly, SameSite=Lax cookie for the whole tenant (Secure on https)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=tenant.settings.issuer.startswith("https://"),
        path="/",
    )


def start_session(
    tenant: Tenant, response: Response, user: User, old_cookie: str | None
) -> Session:
    tenant.grants.end_session(old_cookie)
    cookie, session = tenant.grants.start_session(user.user_id)
    set_cookie(tenant, response, SESSION_COOKIE, cookie, int(tenant.grants.sessions.lifetime))
    return session


def start_login(request: Request, tenant: Tenant, auth_request: AuthorizationRequest) -> Response:
    """The login page, for a transaction bound to this browser's cookie."""
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if len(browser) != BROWSER_COOKIE_LENGTH:
        browser = new_secret()
    transaction_id = tenant.grants.start_transaction(auth_request, browser)
    response = login_page(request, tenant, transaction_id, auth_request)
    set_cookie(tenant, response, BROWSER_COOKIE, browser, TRANSACTION_LIFETIME)
    return response


def page_query(request: Request) -> dict[str, str]:
    """The query of a browser request, or the error page when it is malformed."""
    try:
        return query_params(request)
    except BadParameters as exc:
        raise ErrorPage(str(exc)) from exc


@router.get("/authorize")
async def authorize(request: Request, tenant: TenantDep) -> Response:
    params = page_query(request)
    auth_request = parse_request(tenant, params)
    prompts = set(scopes_of(params.get("prompt")))
    session = (
        None if "login" in prompts else tenant.grants.session(request.cookies.get(SESSION_COOKIE))
    )
    if session is not None and tenant.registry.user(session.user_id) is not None:
        return code_redirect(tenant, auth_request, session)
    if "none" in prompts:
        raise RedirectError(
            auth_request.redirect_uri, "login_required", "Login required", auth_request.state
        )
    return start_login(request, tenant, auth_request)


def expired_login(tenant: Tenant, client_id: str) -> ErrorPage:
    """The expired-login page, with a link back to the application when it is known.

    The link is one of the application's registered URLs (logout URLs, then web origins),
    never a URL from the request: the tenant stays no open redirector.
    """
    client = tenant.registry.client(client_id)
    urls = (client.logout_urls + client.web_origins) if client else []
    back = (f"Back to {client.name or client.client_id}", urls[0]) if client and urls else None
    return ErrorPage(EXPIRED_LOGIN, back=back)


def pending_login(
    tenant: Tenant, params: dict[str, str], request: Request
) -> tuple[str, AuthorizationRequest]:
    """The login transaction `params` name (`state`), if this browser started it; else the
    expired-login page."""
    transaction_id = params.get("state", "")
    auth_request = tenant.grants.transaction(transaction_id, request.cookies.get(BROWSER_COOKIE))
    if auth_request is None:
        raise expired_login(tenant, params.get("client_id", ""))
    return transaction_id, auth_request


@router.get("/u/login")
async def login_form(request: Request, tenant: TenantDep) -> Response:
    """The login page of a transaction: where a failed attempt lands (Post/Redirect/Get)."""
    params = page_query(request)
    transaction_id, auth_request = pending_login(tenant, params, request)
    email, auth_request.failed_email = auth_request.failed_email, None
    error = WRONG_CREDENTIALS if email is not None else None
    return login_page(request, tenant, transaction_id, auth_request, error=error, email=email or "")


@router.post("/u/login")
async def login(request: Request, tenant: TenantDep) -> Response:
    check_same_origin(request)  # before reading a byte of the body
    try:
        form = await form_params(request)
    except BadParameters as exc:
        raise ErrorPage(str(exc)) from exc
    transaction_id, auth_request = pending_login(tenant, form, request)
    demo = form.get("demo")
    if demo:
        user = tenant.registry.user_by_email(demo)
    else:
        user = tenant.users.authenticate(form.get("username", ""), form.get("password", ""))
    if user is None:
        # Post/Redirect/Get: a reload of the page that says so never re-posts the password.
        auth_request.failed_email = form.get("username", "")
        query = urlencode({"state": transaction_id, "client_id": auth_request.client_id})
        return RedirectResponse(f"/u/login?{query}", status_code=303)
    tenant.grants.transactions.pop(transaction_id)
    response = Response(status_code=302)
    session = start_session(tenant, response, user, request.cookies.get(SESSION_COOKIE))
    redirect = code_redirect(tenant, auth_request, session)
    response.headers["location"] = redirect.headers["location"]
    return response
