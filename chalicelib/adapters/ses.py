"""Amazon SES (API v2) as the desk's Mailer: one raw MIME message per call, through botocore directly.

botocore is imported, and the client built, on the first send only: importing this module costs nothing on the
cold path of handlers that never send mail.
"""

from __future__ import annotations

from typing import Any

from chalicelib.services.ports import MailNotSent

REASON_LIMIT = 300


def _short(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


class SesMailer:
    """Implements `Mailer`: SESv2 SendEmail with Content.Raw; any failure is MailNotSent with a short reason."""

    def __init__(self, region: str, configuration_set: str | None = None) -> None:
        self.region = region
        self.configuration_set = configuration_set  # bounce and complaint events, when deployed
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The sesv2 client, built once on first use, with short timeouts and few retries."""
        if self._client is None:
            import botocore.session
            from botocore.config import Config

            config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
            from chalicelib.adapters.meter import watch

            self._client = watch(
                botocore.session.get_session().create_client("sesv2", region_name=self.region, config=config)
            )
        return self._client

    def send(self, sender: str, to: str, raw: bytes) -> str:
        """Send one raw MIME message; SES's message id. MailNotSent when SES did not take it, for any reason.

        Destination names the one recipient, so SES delivers to `to` alone whatever the message's headers say;
        it still refuses a message whose To/Cc/Bcc holds an address it cannot read (see `mime.address_header`).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        extra = {"ConfigurationSetName": self.configuration_set} if self.configuration_set else {}
        try:
            response = self.client.send_email(
                FromEmailAddress=sender,
                Destination={"ToAddresses": [to]},
                Content={"Raw": {"Data": raw}},
                **extra,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code") or "ClientError"
            message = error.get("Message") or str(exc)
            raise MailNotSent(_short(f"{code}: {message}")) from exc
        except BotoCoreError as exc:  # unreachable endpoint, timeouts, no credentials, bad parameters ...
            raise MailNotSent(_short(f"{type(exc).__name__}: {exc}")) from exc
        return str(response["MessageId"])
