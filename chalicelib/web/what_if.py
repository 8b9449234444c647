"""`POST /reports/sla/what-if` (admin): the period's SLA figures under the current and a proposed policy."""

from __future__ import annotations

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.services.what_if import WhatIf
from chalicelib.web.http import handled, json_body, json_response, signed_in_admin


def service() -> WhatIf:
    """Built per request from the cached desk: it keeps nothing of its own."""
    from chalicelib.adapters.what_if import DynamoCreatedTickets

    return WhatIf(wiring.desk(), DynamoCreatedTickets())


@handled
def what_if(request: Request) -> Response:
    signed_in_admin(request)
    return json_response(service().compare(json_body(request)))
