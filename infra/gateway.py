"""API Gateway's own answers in the desk's error shape, the stage's throttling and the binary media types (merged into
Chalice's REST API).

API Gateway answers some requests without calling the desk: a path or method no route has (MISSING_AUTHENTICATION_TOKEN,
by default a 403 whose message quotes the request's Authorization header when there is one), a request over the
stage's throttle (THROTTLED), and its other 4xx and 5xx. Here each gets the body `chalicelib.web.http` gives the same
error, with nothing taken from the request. The local run answers an unknown route with the same body
(localdesk/gateway.py).

A file the desk serves (an attachment, an original message) leaves the Lambda base64-encoded (`isBase64Encoded`), and
API Gateway REST decodes it only when the request's first Accept type matches one of the API's binary media types;
a browser's first is text/html. AWS's documented answer is the binary media type `*/*`. With it API Gateway hands
every request body to the Lambda base64-encoded too (isBase64Encoded), which Chalice's Request.raw_body decodes: the
desk reads bodies only through it (chalicelib/web/http.py). Text answers (isBase64Encoded false) pass as they are.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.errors import HelpdeskError, NotFoundError, PayloadTooLargeError, RateLimitedError
from chalicelib.web.http import error_body

Json = dict[str, Any]


class GatewayRefusedError(HelpdeskError):
    """A request API Gateway itself refused, for a reason the desk has no error of its own for (e.g. a WAF rule)."""

    code = "request_refused"


UNKNOWN_ROUTE = NotFoundError("no route of the desk answers this method on this path")
RETRY_AFTER_SECONDS = 1
THROTTLED = RateLimitedError(
    "the desk is receiving too many requests; try again in a moment", retry_after_seconds=RETRY_AFTER_SECONDS
)
TOO_LARGE = PayloadTooLargeError("the request is larger than API Gateway accepts (10 MB)")
REFUSED = GatewayRefusedError("the request was refused before it reached the desk")
# What chalicelib.web.http.handled answers for an unexpected exception; a 5xx of API Gateway's own says the same.
INTERNAL: Json = {"error": {"code": "internal", "message": "something went wrong"}}
# The headers chalicelib.web.http.json_response sets, as the static values a gateway response takes (quoted).
HEADERS = {"Content-Type": "'application/json; charset=utf-8'", "Cache-Control": "'no-store'"}

# Routes anyone (or anyone holding a link) may post to, each of which can make the desk send mail: held to a lower
# rate than the stage's, so that a flood costs at most their rate in mails.
ANONYMOUS_POSTS = (
    "/tickets",
    "/portal/tickets/{ticket_id}/comments",
    "/portal/tickets/{ticket_id}/transitions",
    "/console/sign-in",
)


# Where Chalice's swagger carries app.api.binary_types, and the type that makes every answer's bytes decodable.
BINARY_MEDIA_TYPES = "x-amazon-apigateway-binary-media-types"
ANY_MEDIA_TYPE = "*/*"
# A mock integration (Chalice's CORS preflight) answers 500 under */* unless it converts to text (aws/chalice#1310).
TEXT_HANDLING = "CONVERT_TO_TEXT"


class GatewayError(Exception):
    """The REST API cannot be given its settings as it is (a route the limits name is gone, a preflight */* breaks)."""


def stage_parameters() -> Json:
    def limit(description: str, default: int) -> Json:
        return {"Type": "Number", "Default": default, "MinValue": 1, "Description": description}

    return {
        "ThrottleRateLimit": limit("Requests per second the whole API stage accepts in the long run (429 above).", 20),
        "ThrottleBurstLimit": limit("Requests the whole API stage accepts at once above its rate.", 40),
        "AnonymousPostRateLimit": limit(
            "Requests per second each anonymous, mail-sending POST route accepts (new tickets, portal comments and "
            "transitions, console sign-in), all callers together.",
            2,
        ),
        "AnonymousPostBurstLimit": limit("Requests each anonymous, mail-sending POST route accepts at once.", 10),
    }


def _response(error: HelpdeskError | None, status: int | None, headers: dict[str, str] | None = None) -> Json:
    body = INTERNAL if error is None else error_body(error)
    response: Json = {
        "ResponseParameters": {"Headers": {**HEADERS, **(headers or {})}},
        "ResponseTemplates": {"application/json": json.dumps(body, ensure_ascii=False)},
    }
    if status is not None:
        response["StatusCode"] = str(status)
    return response


def gateway_responses() -> Json:
    """SAM's GatewayResponses: a status of None keeps API Gateway's own (DEFAULT_4XX covers 400, 403, 415, ...)."""
    return {
        "MISSING_AUTHENTICATION_TOKEN": _response(UNKNOWN_ROUTE, 404),
        "THROTTLED": _response(THROTTLED, 429, {"Retry-After": f"'{RETRY_AFTER_SECONDS}'"}),
        "REQUEST_TOO_LARGE": _response(TOO_LARGE, 413),
        "DEFAULT_4XX": _response(REFUSED, None),
        "DEFAULT_5XX": _response(None, None),
    }


def resource_path(path: str) -> str:
    """A route's path as a stage's MethodSettings name it: every '/' as '~1', after a leading '/'."""
    return "/" + path.replace("/", "~1")


def method_settings(definition: Json) -> list[Json]:
    """The stage's rate and burst for every method, and the lower ones of ANONYMOUS_POSTS (which must be routes)."""
    paths = definition.get("paths", {})
    missing = [path for path in ANONYMOUS_POSTS if "post" not in paths.get(path, {})]
    if missing:
        raise GatewayError(f"no POST route {', '.join(missing)}: update infra/gateway.py's ANONYMOUS_POSTS")
    stage = {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottleBurstLimit"},
    }
    anonymous = [
        {
            "ResourcePath": resource_path(path),
            "HttpMethod": "POST",
            "ThrottlingRateLimit": {"Ref": "AnonymousPostRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "AnonymousPostBurstLimit"},
        }
        for path in ANONYMOUS_POSTS
    ]
    return [stage, *anonymous]


def binary_media_types(definition: Json) -> list[str]:
    """Chalice's binary types (app.api.binary_types, as the definition has them) and `*/*`, so that a browser, whose
    first Accept type is text/html, gets a download's bytes rather than their base64 text. A mock integration that
    would break under `*/*` is refused."""
    unconverted = [
        f"{method.upper()} {path}"
        for path, methods in definition.get("paths", {}).items()
        for method, operation in methods.items()
        if isinstance(operation, dict)
        and operation.get("x-amazon-apigateway-integration", {}).get("type") == "mock"
        and operation["x-amazon-apigateway-integration"].get("contentHandling") != TEXT_HANDLING
    ]
    if unconverted:
        raise GatewayError(
            f"mock integrations without contentHandling {TEXT_HANDLING} ({', '.join(unconverted)}) fail under "
            f"the binary media type {ANY_MEDIA_TYPE}"
        )
    # Once each: the app appends types Chalice's defaults already have (a list API Gateway need not be given twice).
    return list(dict.fromkeys([*definition.get(BINARY_MEDIA_TYPES, []), ANY_MEDIA_TYPE]))


def api_properties(api: Json) -> Json:
    """What the overlay merges into the properties of Chalice's REST API (an AWS::Serverless::Api); the merge is deep,
    so the definition keeps its paths and gets only the binary media types (a list, replaced whole)."""
    definition = api["Properties"]["DefinitionBody"]
    return {
        "GatewayResponses": gateway_responses(),
        "MethodSettings": method_settings(definition),
        "DefinitionBody": {BINARY_MEDIA_TYPES: binary_media_types(definition)},
    }
