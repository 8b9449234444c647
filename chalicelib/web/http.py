"""HTTP glue: body parsing, bearer tokens, CORS, and the one place desk errors become HTTP answers."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec
from urllib.parse import parse_qs

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.agents import Agent
from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    HelpdeskError,
    MalformedRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ValidationError,
)

if TYPE_CHECKING:
    from chalicelib.web.multipart import Multipart, PostedFile

logger = logging.getLogger("helpdesk")

STATUS_BY_ERROR: tuple[tuple[type[HelpdeskError], int], ...] = (
    (ValidationError, 422),
    (MalformedRequestError, 400),
    (AuthenticationError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    (RateLimitedError, 429),
)
JSON = "application/json"
MULTIPART = "multipart/form-data"
# A page's post with files goes through API Gateway to a Lambda, whose request is at most 6 MB once API Gateway has
# base64-encoded the body: 4 MB of files and form. Larger files come by mail, or straight to S3 (the API's uploads).
UPLOAD_BODY_MB = 4
UPLOAD_BODY_BYTES = UPLOAD_BODY_MB * 1024 * 1024
FORM = "application/x-www-form-urlencoded"
IDEMPOTENCY_KEY_LIMIT = 255
P = ParamSpec("P")


def status_of(error: HelpdeskError) -> int:
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 400)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": f"{JSON}; charset=utf-8", "Cache-Control": "no-store", **(headers or {})},
    )


def error_body(error: HelpdeskError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message, **error.details}}


def retry_after(error: RateLimitedError) -> int:
    """Seconds until the limit's window frees, as the `Retry-After` header says it."""
    seconds = error.details.get("retry_after_seconds", 3600)
    return seconds if isinstance(seconds, int) and seconds > 0 else 3600


def error_headers(error: HelpdeskError) -> dict[str, str]:
    return {"Retry-After": str(retry_after(error))} if isinstance(error, RateLimitedError) else {}


def error_response(error: HelpdeskError) -> Response:
    headers = error_headers(error)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="helpdesk"'
    return json_response(error_body(error), status_of(error), headers)


def _json_error(error: HelpdeskError, request: Request) -> Response:
    return error_response(error)


def handled(
    view: Callable[Concatenate[Request, P], Response],
    *,
    on_error: Callable[[HelpdeskError, Request], Response] = _json_error,
) -> Callable[Concatenate[Request, P], Response]:
    """Wrap a view (request first) so desk errors answer with their 4xx and anything else with a logged 500."""

    @functools.wraps(view)
    def wrapper(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            response = view(request, *args, **kwargs)
        except HelpdeskError as error:
            response = on_error(error, request)
        except Exception:
            logger.exception("unhandled error in %s", view.__name__)
            response = json_response({"error": {"code": "internal", "message": "something went wrong"}}, 500)
        return with_cors(response, request)

    return wrapper


def header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value if isinstance(value, str) else None


def query(request: Request, name: str) -> str | None:
    params = request.query_params
    value = params.get(name) if params is not None else None
    return value if isinstance(value, str) else None


def query_all(request: Request, name: str) -> list[str]:
    params = request.query_params
    values = params.getlist(name) if params is not None and name in params else []
    return [v for v in values if isinstance(v, str)]


def media_type(request: Request) -> str:
    return (header(request, "content-type") or "").split(";")[0].strip().lower()


def is_form(request: Request) -> bool:
    """A page's form post: url-encoded, or multipart when it carries files."""
    return media_type(request) in (FORM, MULTIPART)


def wants_html(request: Request) -> bool:
    accept = (header(request, "accept") or "").lower()
    return "text/html" in accept and JSON not in accept


def raw_body(request: Request) -> bytes:
    raw = request.raw_body or b""
    body = raw.encode() if isinstance(raw, str) else raw
    limit = UPLOAD_BODY_BYTES if media_type(request) == MULTIPART else wiring.settings().max_body_bytes
    if len(body) > limit:
        if limit == UPLOAD_BODY_BYTES:
            address = wiring.settings().inbound_address
            by_mail = f"; send larger ones by email to {address}" if address else ""
            raise PayloadTooLargeError(
                f"The files come to more than {UPLOAD_BODY_MB} MB: a page takes at most {UPLOAD_BODY_MB} MB at once"
                f"{by_mail}. Nothing was sent"
            )
        raise PayloadTooLargeError(f"the request body is larger than {limit} bytes")
    return body


def _multipart(request: Request) -> Multipart:
    """The multipart form, parsed once per request (its text fields and its files are asked for separately)."""
    from chalicelib.web import multipart  # only a post with files pays for the email package's parser

    parsed = getattr(request, "_helpdesk_multipart", None)
    if isinstance(parsed, multipart.Multipart):
        return parsed
    parsed = multipart.parse(raw_body(request), header(request, "content-type") or "")
    request._helpdesk_multipart = parsed  # type: ignore[attr-defined]
    return parsed


def posted_files(request: Request) -> list[PostedFile]:
    """The files of a multipart form (none for any other body)."""
    return _multipart(request).files if media_type(request) == MULTIPART else []


def json_body(request: Request) -> Any:
    body = raw_body(request)
    if not body.strip():
        raise MalformedRequestError("the request body is empty; send a JSON object")
    try:
        parsed = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        # "\ud800" is valid JSON but no text: nothing could store or show it.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRequestError("the request body contains an unpaired surrogate (\\ud800-\\udfff)") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedRequestError("the request body is not valid JSON") from None
    return parsed


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def form_body(request: Request) -> dict[str, str]:
    """A url-encoded form as name -> value; a name sent twice is refused rather than guessed at. A multipart
    form's text fields the same way (its files: posted_files)."""
    if media_type(request) == MULTIPART:
        return dict(_multipart(request).fields)
    try:
        text = raw_body(request).decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=200, strict_parsing=False)
    except UnicodeDecodeError:
        raise MalformedRequestError("the form is not UTF-8") from None
    except ValueError:
        raise PayloadTooLargeError("the form has too many fields") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise ValidationError("a field was sent more than once", dict.fromkeys(repeated, "was sent more than once"))
    return {name: values[0] for name, values in parsed.items()}


def body_object(request: Request) -> dict[str, Any]:
    """The request body as a dict, from JSON or a url-encoded form."""
    if is_form(request):
        return dict(form_body(request))
    body = json_body(request)
    if not isinstance(body, dict):
        raise MalformedRequestError("the request body must be a JSON object")
    return body


def bearer_token(request: Request) -> str | None:
    value = header(request, "authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def idempotency_key(request: Request) -> str | None:
    key = header(request, "idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_LIMIT or not key.isprintable():
        raise ValidationError(
            "bad Idempotency-Key", {"Idempotency-Key": f"must be 1 to {IDEMPOTENCY_KEY_LIMIT} printable characters"}
        )
    return key


def source_ip(request: Request) -> str | None:
    """The caller's address as API Gateway saw the connection (never a header the caller could write)."""
    identity = (request.context or {}).get("identity") or {}
    address = identity.get("sourceIp") if isinstance(identity, dict) else None
    return address if isinstance(address, str) and address else None


def signed_in_agent(request: Request) -> Agent:
    return wiring.desk().authenticate(bearer_token(request))


def signed_in_admin(request: Request) -> Agent:
    agent = signed_in_agent(request)
    if not agent.is_admin:
        raise ForbiddenError("only an admin may do this")
    return agent


def public_base_url(request: Request) -> str:
    """The URL the desk is reached at: the configured one, or what API Gateway says it was called by."""
    configured = wiring.settings().public_url
    if configured:
        return configured
    context = request.context or {}
    host = header(request, "host") or context.get("domainName") or "localhost"
    stage = context.get("stage")
    if host.endswith(".amazonaws.com") and stage:
        return f"https://{host}/{stage}"
    proto = header(request, "x-forwarded-proto") or "https"
    return f"{proto}://{host}"


def with_cors(response: Response, request: Request) -> Response:
    """Allow the origins the stage lists (exactly, never '*'), so their web forms can post from the browser."""
    origin = (header(request, "origin") or "").rstrip("/")
    if origin and origin in wiring.settings().cors_origins:
        response.headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Headers": "Content-Type, Authorization, Idempotency-Key",
                "Access-Control-Allow-Methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            }
        )
    return response
