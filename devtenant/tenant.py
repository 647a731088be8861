"""The running tenant: everything a request handler needs, made once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from devtenant.config import Registry, Settings
from devtenant.dpop import ProofChecker
from devtenant.grants import Grants
from devtenant.keys import KeyRing
from devtenant.users import Directory

PACKAGE_DIR = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=PACKAGE_DIR / "templates")
SESSION_COOKIE = "devtenant_session"
# Names this browser to the login transactions it starts (see Grants.transaction).
BROWSER_COOKIE = "devtenant_browser"


@dataclass
class Tenant:
    settings: Settings
    registry: Registry
    keys: KeyRing
    users: Directory
    grants: Grants
    dpop: ProofChecker
    http: httpx.AsyncClient  # the process's one client: back-channel logout requests

    @classmethod
    def open(cls, settings: Settings, registry: Registry, http: httpx.AsyncClient) -> Tenant:
        data_dir = settings.devtenant_data_dir
        return cls(
            settings=settings,
            registry=registry,
            keys=KeyRing(data_dir),
            users=Directory(settings, registry, data_dir),
            grants=Grants(data_dir, settings.devtenant_refresh_token_lifetime),
            dpop=ProofChecker(f"{settings.issuer}oauth/token"),
            http=http,
        )


def get_tenant(request: Request) -> Tenant:
    tenant: Tenant = request.app.state.tenant
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]
