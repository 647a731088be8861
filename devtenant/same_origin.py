"""Refusing login forms that another page posted: the browser's own word on where it came from.

`Sec-Fetch-Site` is authoritative when a browser sends it; otherwise `Origin`, when present,
must name the host the form was posted to.  `Origin: null` says nothing either way (the
tenant's pages send no referrer, and some browsers then send `null` even for their own
forms), so it is left to the browser-bound login transaction (grants.py) to refuse.
Requests with neither header (scripts, tests) are likewise left to that binding.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from devtenant.errors import ErrorPage

OWN_FETCH_SITES = frozenset({"same-origin", "none"})  # "none": the user typed or bookmarked it
FOREIGN_FORM = "This login form was not sent from the tenant login page."


def check_same_origin(request: Request) -> None:
    """ErrorPage (403) unless the browser says the request came from the tenant's own page."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site.lower() not in OWN_FETCH_SITES:
            raise ErrorPage(FOREIGN_FORM, status_code=403)
        return
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
        raise ErrorPage(FOREIGN_FORM, status_code=403)
