"""Agents and administrators of the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import ConflictError, ValidationError
from chalicelib.domain.tickets import NAME_LIMIT, hidden_character, normalise_email, valid_email

AGENT_ROLES = ("agent", "admin")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    email: str
    role: str
    created_at: datetime
    active: bool = True
    shortcuts: bool = True  # single-key shortcuts in the console; an agent may switch them off (WCAG 2.1.4)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def agent_name_problem(name: Any) -> str | None:
    """Why `name` cannot be an agent's name (None if it can); the same rule wherever a name is set."""
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_LIMIT:
        return f"must be a single line of 1 to {NAME_LIMIT} characters"
    hidden = hidden_character(name)
    if hidden is not None:
        return (
            f"must not contain control, line-break or invisible formatting characters (found {hidden}); "
            "type the name as it should read"
        )
    return None


def check_new_agent(raw: dict[str, Any]) -> tuple[str, str, str]:
    """Name, email and role of an agent an admin asked to create."""
    errors: dict[str, str] = {}
    for extra in sorted(set(raw) - {"name", "email", "role"}):
        errors[extra] = "is not a known field"
    name = raw.get("name")
    name_problem = agent_name_problem(name)
    if name_problem is not None:
        errors["name"] = name_problem
    email = raw.get("email")
    if not isinstance(email, str) or not valid_email(normalise_email(email)):
        errors["email"] = "must be an email address"
    role = raw.get("role", "agent")
    if role not in AGENT_ROLES:
        errors["role"] = "must be agent or admin"
    if errors or not isinstance(name, str) or not isinstance(email, str):
        raise ValidationError("the agent cannot be created as sent", errors)
    return name.strip(), normalise_email(email), str(role)


def email_taken() -> ConflictError:
    """What creating an agent with an address an active agent has answers: sign-in by email needs one owner."""
    return ConflictError(
        "an active agent has this email address already; use another address, or revoke that agent first",
        errors={"email": "belongs to an active agent already"},
    )
