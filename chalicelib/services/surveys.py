"""Satisfaction surveys: the one-click rating, the comment, and the unsubscribe link of the survey mail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.config import DeskConfig
from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.domain.tickets import Ticket
from chalicelib.domain.tokens import verify_link
from chalicelib.services.desk import Desk, is_whole_number
from chalicelib.services.mailing import SURVEY, UNSUBSCRIBE
from chalicelib.services.ports import OptOutStore, SurveyAnswer, SurveyStore

COMMENT_LIMIT = 5000


@dataclass(frozen=True)
class SurveyView:
    ticket: Ticket
    config: DeskConfig
    answer: SurveyAnswer | None


class Surveys:
    def __init__(self, desk: Desk, answers: SurveyStore, optouts: OptOutStore) -> None:
        self.desk = desk
        self.answers = answers
        self.optouts = optouts

    def _ticket(self, purpose: str, token: str) -> Ticket:
        """The ticket a signed link was made for; forged, altered or expired links are refused (401)."""
        ticket_id = verify_link(self.desk.store.signing_secret(), purpose, token, self.desk.clock.now())
        ticket = self.desk.tickets.get(ticket_id)
        if ticket is None:
            raise NotFoundError("the request this link was for no longer exists")
        return ticket

    def open(self, token: str) -> SurveyView:
        ticket = self._ticket(SURVEY, token)
        return SurveyView(ticket, self.desk.config(), self.answers.get(ticket.id))

    def answer(self, token: str, rating: Any, comment: Any) -> SurveyView:
        """Record the rating (and the comment, if sent); a second answer updates the first, never adds one."""
        ticket = self._ticket(SURVEY, token)
        config = self.desk.config()
        scale = config.survey.scale
        errors: dict[str, str] = {}
        value = _whole(rating)
        if value is None or not 1 <= value <= scale:
            errors["rating"] = f"must be a whole number from 1 to {scale}"
        text: str | None = None
        if comment is not None:
            if not isinstance(comment, str):
                errors["comment"] = "must be text"
            elif len(comment) > COMMENT_LIMIT:
                errors["comment"] = f"must be at most {COMMENT_LIMIT} characters"
            else:
                text = comment.strip()
        if errors or value is None:
            raise ValidationError("the answer cannot be recorded as sent", errors)
        answer = self.answers.answer(ticket.id, value, text, self.desk.clock.now())
        return SurveyView(ticket, config, answer)

    def answer_for(self, ticket_id: str) -> SurveyAnswer | None:
        return self.answers.get(ticket_id)

    def unsubscribing(self, token: str) -> Ticket:
        return self._ticket(UNSUBSCRIBE, token)

    def unsubscribe(self, token: str) -> Ticket:
        """No more surveys to the address the ticket was opened from; doing it twice is the same as once."""
        ticket = self._ticket(UNSUBSCRIBE, token)
        self.optouts.opt_out(ticket.requester_email, self.desk.clock.now())
        return ticket


def _whole(value: Any) -> int | None:
    """A rating as sent: a JSON number, or the digits of a form field or query parameter."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and is_whole_number(value.strip()):
        return int(value.strip())
    return None
