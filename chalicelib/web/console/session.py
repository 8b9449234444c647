"""The console's HTTP glue: the session cookie, CSRF checks, the console's security headers and its error pages."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, Concatenate, ParamSpec
from urllib.parse import quote, urlsplit

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import AuthenticationError, ForbiddenError, HelpdeskError
from chalicelib.services.sessions import SignedIn
from chalicelib.web import pages
from chalicelib.web.http import form_body, header, public_base_url, status_of

logger = logging.getLogger("helpdesk.console")
COOKIE = "hd_session"
P = ParamSpec("P")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
SAFE_SITES = ("same-origin", "none")


def session_cookie(request: Request) -> str | None:
    raw = header(request, "cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def cookie_path(request: Request) -> str:
    return (urlsplit(public_base_url(request)).path.rstrip("/") or "") + "/console"


def set_cookie(request: Request, value: str, max_age: int) -> str:
    secure = "; Secure" if public_base_url(request).startswith("https://") else ""
    return f"{COOKIE}={value}; Path={cookie_path(request)}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"


def html(body: str, status: int = 200, extra: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={**HEADERS, **(extra or {})})


def redirect(location: str, extra: dict[str, str] | None = None) -> Response:
    return Response(
        body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store", **(extra or {})}
    )


def same_origin(request: Request) -> bool:
    """Browsers say where an unsafe request comes from; a request from another site is refused before anything
    else (the signed form token is the second line, for browsers that send neither header)."""
    site = header(request, "sec-fetch-site")
    if site is not None:
        return site in SAFE_SITES
    origin = header(request, "origin")
    if origin is not None:
        return pages.origin(public_base_url(request)) == origin.rstrip("/")
    return True


def form(request: Request) -> dict[str, str]:
    if not same_origin(request):
        raise ForbiddenError("this request came from another site and was refused")
    return form_body(request)


def signed_in(request: Request, *, renew: bool = True) -> SignedIn:
    return wiring.sessions().resume(session_cookie(request), renew=renew)


def checked_form(request: Request) -> tuple[SignedIn, dict[str, str]]:
    """The session and the posted form of an unsafe console request, after the origin and CSRF checks."""
    values = form(request)
    who = signed_in(request)
    wiring.sessions().check_csrf(who, values.pop("csrf", None) or header(request, "x-csrf-token"))
    return who, values


def _error_page(error: HelpdeskError, request: Request) -> Response:
    base = public_base_url(request)
    if isinstance(error, AuthenticationError) and request.method == "GET" and not _wants_json(request):
        here = here_path(request)
        target = f"{base}/console/sign-in"
        if here.startswith("/console") and here != "/console/sign-in":
            target += f"?next={quote(here)}&ended=1" if session_cookie(request) else f"?next={quote(here)}"
        elif session_cookie(request):
            target += "?ended=1"
        return redirect(target)
    status = status_of(error)
    if _wants_json(request):
        from chalicelib.web.http import error_response

        return error_response(error)
    return render(request, "console/message.html", None, status, title=_title(status), message=error.message)


def here_path(request: Request) -> str:
    """The request's path below the desk's base URL (API Gateway's context path carries the stage first)."""
    context = request.context if isinstance(request.context, dict) else {}
    path = str(context.get("path") or "")
    stage = context.get("stage")
    if stage and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]
    return path


def _title(status: int) -> str:
    return {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Changed meanwhile"}.get(
        status, "Something is not right"
    )


def _wants_json(request: Request) -> bool:
    accept = (header(request, "accept") or "").lower()
    return "application/json" in accept and "text/html" not in accept


def console_view(view: Callable[Concatenate[Request, P], Response]) -> Callable[Concatenate[Request, P], Response]:
    """Desk errors become console pages (or a redirect to sign in); anything else a logged 500 page."""

    @functools.wraps(view)
    def wrapper(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(request, *args, **kwargs)
        except HelpdeskError as error:
            return _error_page(error, request)
        except Exception:
            logger.exception("unhandled error in console view %s", view.__name__)
            return html("<!doctype html><title>Error</title><p>Something went wrong.</p>", 500)

    return wrapper


def render(
    request: Request, template: str, who: SignedIn | None, http_status: int = 200, /, **context: Any
) -> Response:
    base = public_base_url(request)
    config = wiring.desk().config()
    body = pages.render(
        template,
        base=base,
        me=who.agent if who else None,
        csrf=who.csrf if who else "",
        desk_name=config.desk.name,
        shortcuts=who.agent.shortcuts if who else False,
        **context,
    )
    return html(body, http_status)
