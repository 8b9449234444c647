"""HTML pages (the public form, thank-you page, requester portal), rendered with autoescaping Jinja2."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from chalice.app import Response

_environment: Any = None

# Pages carry no script and no inline style: their one stylesheet is served by the desk itself (assets.py).
# Portal pages hold a token in their URL: send no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def render(template: str, **context: Any) -> str:
    """Jinja2 is imported on the first page rendered, never on the JSON API's cold path.

    Templates call `asset("desk.css")` for a stylesheet or script; it resolves against the `base` in the
    context (the desk's base URL, which carries API Gateway's stage path when there is one).
    """
    global _environment
    if _environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape

        from chalicelib.web.assets import asset_path

        @pass_context
        def asset(context: Any, name: str) -> str:
            return f"{context.get('base', '')}{asset_path(name)}"

        _environment = Environment(
            loader=PackageLoader("chalicelib", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _environment.globals["asset"] = asset
    return str(_environment.get_template(template).render(**context))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def html_response(
    html: str, status: int = 200, *, frame_ancestors: str = "'none'", form_targets: tuple[str, ...] = ()
) -> Response:
    """`form_targets`: URLs a form on the page posts to or is redirected to; browsers apply form-action to both."""
    form_action = " ".join(dict.fromkeys(("'self'", *(origin(u) for u in form_targets))))
    csp = f"{SECURITY_HEADERS['Content-Security-Policy']}; form-action {form_action}; frame-ancestors {frame_ancestors}"
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        **SECURITY_HEADERS,
        "Content-Security-Policy": csp,
    }
    return Response(body=html, status_code=status, headers=headers)


def redirect(location: str) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def message_page(title: str, message: str, status: int, *, base: str = "", back: str | None = None) -> Response:
    """`base`: the desk's base URL, which the page's stylesheet link resolves against; `back`: a link back."""
    return html_response(render("message.html", base=base, title=title, message=message, back=back), status)
