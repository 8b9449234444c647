"""DynamoDB stores of survey answers (beside the ticket, so the stream sees them) and survey opt-outs."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.adapters.records import OptOutRecord, SurveyRecord, is_condition_failure
from chalicelib.services.ports import SurveyAnswer

SURVEY_SK = "survey"
ATTEMPTS = 3


def survey_answer(record: SurveyRecord) -> SurveyAnswer:
    return SurveyAnswer(
        ticket_id=record.pk,
        rating=int(record.rating),
        comment=record.comment or "",
        answered_at=record.answered_at,
        revision=int(record.revision),
    )


class DynamoSurveyStore:
    def get(self, ticket_id: str) -> SurveyAnswer | None:
        try:
            return survey_answer(SurveyRecord.get(ticket_id, SURVEY_SK, consistent_read=True))
        except DoesNotExist:
            return None

    def answer(self, ticket_id: str, rating: int, comment: str | None, now: datetime) -> SurveyAnswer:
        """Conditional on the revision read, so two answers at once both count, one after the other."""
        for _ in range(ATTEMPTS):
            current = self.get(ticket_id)
            kept = comment if comment is not None else (current.comment if current else "")
            if current is not None and current.rating == rating and current.comment == kept:
                return current
            revision = current.revision + 1 if current else 1
            try:
                if current is None:  # a whole item at once: the stream sees the answer, never a bare key
                    SurveyRecord(
                        pk=ticket_id, sk=SURVEY_SK, rating=rating, comment=kept, answered_at=now, revision=revision
                    ).save(condition=SurveyRecord.pk.does_not_exist())
                else:
                    SurveyRecord(pk=ticket_id, sk=SURVEY_SK).update(
                        actions=[
                            SurveyRecord.rating.set(rating),
                            SurveyRecord.comment.set(kept),
                            SurveyRecord.answered_at.set(now),
                            SurveyRecord.revision.set(revision),
                        ],
                        condition=SurveyRecord.revision == current.revision,
                    )
            except (PutError, UpdateError) as error:
                if is_condition_failure(error):
                    continue
                raise
            return SurveyAnswer(ticket_id, rating, kept, now, revision)
        raise RuntimeError("the survey answer kept changing underneath")


class DynamoOptOutStore:
    def opt_out(self, email: str, now: datetime) -> None:
        OptOutRecord(pk=f"optout#{email}", sk=SURVEY_SK, at=now).save()

    def opted_out(self, email: str) -> bool:
        try:
            OptOutRecord.get(f"optout#{email}", SURVEY_SK)
        except DoesNotExist:
            return False
        return True
