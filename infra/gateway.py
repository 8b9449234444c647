"""API Gateway's own answers in the desk's error shape, and the stage's throttling (merged into Chalice's REST API).

API Gateway answers some requests without calling the desk: a path or method no route has (MISSING_AUTHENTICATION_TOKEN,
by default a 403 whose message quotes the request's Authorization header when there is one), a request over the
stage's throttle (THROTTLED), and its other 4xx and 5xx. Here each gets the body `chalicelib.web.http` gives the same
error, with nothing taken from the request. The local run answers an unknown route with the same body
(localdesk/gateway.py).
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


class GatewayError(Exception):
    """The REST API cannot be given its throttling as it is (a route the limits name is gone)."""


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


def api_properties(api: Json) -> Json:
    """What the overlay merges into the properties of Chalice's REST API (an AWS::Serverless::Api)."""
    return {
        "GatewayResponses": gateway_responses(),
        "MethodSettings": method_settings(api["Properties"]["DefinitionBody"]),
    }
