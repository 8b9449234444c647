"""Admin endpoints beside views.py's: an agent's role, and the configuration's stored versions."""

from __future__ import annotations

from typing import Any

from chalice.app import Request, Response

from chalicelib import wiring
from chalicelib.domain.errors import ValidationError
from chalicelib.services.agents import AgentAdmin, ConfigHistory
from chalicelib.services.ports import StoredConfig
from chalicelib.web import present
from chalicelib.web.http import handled, json_body, json_response, query, signed_in_admin

VERSION_PARAMS = {"limit", "version"}


@handled
def change_agent(request: Request, agent_id: str) -> Response:
    admin = signed_in_admin(request)
    agent = AgentAdmin(wiring.desk().store).change_role(agent_id, json_body(request), admin)
    return json_response({"agent": present.agent(agent)})


@handled
def config_versions(request: Request) -> Response:
    """The newest stored versions, without their documents; `?version=N` answers that one with its document."""
    signed_in_admin(request)
    unknown = sorted(set(request.query_params or {}) - VERSION_PARAMS)
    if unknown:
        raise ValidationError("unknown parameters", dict.fromkeys(unknown, "is not a parameter; use limit or version"))
    version = query(request, "version")
    versions = ConfigHistory(wiring.desk().store).versions(query(request, "limit"), version)
    return json_response({"versions": [_version(v, with_document=version is not None) for v in versions]})


def _version(stored: StoredConfig, *, with_document: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "version": stored.version,
        "updated_at": present.when(stored.updated_at),
        "updated_by": stored.updated_by,
    }
    if with_document:
        shown["config"] = stored.document
    return shown
