"""Administration beside the desk's own: changing an agent's role, reading the configuration's past versions."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.agents import AGENT_ROLES, Agent
from chalicelib.domain.errors import ConflictError, MalformedRequestError, NotFoundError, ValidationError
from chalicelib.services.desk import is_plausible_id, is_whole_number
from chalicelib.services.ports import DeskStore, StoredConfig

VERSIONS_PAGE = 20
MAX_VERSIONS_PAGE = 100


class AgentAdmin:
    def __init__(self, store: DeskStore) -> None:
        self.store = store

    def change_role(self, agent_id: str, raw: Any, admin: Agent) -> Agent:
        """Make an agent an admin or an admin an agent; the desk never loses its last active admin."""
        if not isinstance(raw, dict):
            raise MalformedRequestError("the body must be a JSON object")
        errors = dict.fromkeys(sorted(set(raw) - {"role"}), "is not a known field")
        role = raw.get("role")
        if role not in AGENT_ROLES:
            errors["role"] = "is required: agent or admin"
        if errors or not isinstance(role, str):
            raise ValidationError("the role cannot be changed as sent", errors)
        agent = self.store.get_agent(agent_id) if is_plausible_id(agent_id) else None
        if agent is None or not agent.active:
            raise NotFoundError(f"no active agent {agent_id[:64]!r}")
        if agent.role == role:
            return agent
        if agent.is_admin and not self._other_active_admins(agent):
            whom = "you are" if agent.id == admin.id else "they are"
            raise ConflictError(f"{whom} the desk's last active admin; make another agent an admin first")
        changed = self.store.set_agent_role(agent.id, role)
        if changed is None:
            raise NotFoundError(f"no active agent {agent_id!r}")
        return changed

    def _other_active_admins(self, agent: Agent) -> bool:
        # Two admins demoting each other at the same moment could both pass this check; the operator
        # command that creates the first admin (tools/) is the way back from a desk left without one.
        return any(a.is_admin and a.active and a.id != agent.id for a in self.store.list_agents())


class ConfigHistory:
    def __init__(self, store: DeskStore) -> None:
        self.store = store

    def versions(self, limit: str | None = None, version: str | None = None) -> list[StoredConfig]:
        """The newest stored versions (`limit`, default 20), or only version `version` (NotFoundError if never
        stored; version 0, the shipped default, never is)."""
        size = VERSIONS_PAGE
        if limit is not None:
            if not is_whole_number(limit) or not 1 <= int(limit) <= MAX_VERSIONS_PAGE:
                raise ValidationError(
                    "the limit is not valid", {"limit": f"must be a whole number from 1 to {MAX_VERSIONS_PAGE}"}
                )
            size = int(limit)
        if version is None:
            return self.store.config_versions(size)
        if not is_whole_number(version):
            raise ValidationError("the version is not valid", {"version": "must be a whole number"})
        wanted = int(version)
        current = self.store.current_config()
        if current is None or not 1 <= wanted <= current.version:
            raise NotFoundError(f"no configuration version {wanted}")
        # Versions are read newest first, down to the one wanted: old ones cost more, which is fine for an admin.
        found = [v for v in self.store.config_versions(current.version - wanted + 1) if v.version == wanted]
        if not found:
            raise NotFoundError(f"no configuration version {wanted}")
        return found
