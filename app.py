"""The help desk's Chalice app: every route; each body hands the request to one view in chalicelib.web."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent, Rate, Request, Response, SNSEvent

from chalicelib import jobs, stream
from chalicelib.adapters import meter
from chalicelib.adapters.settings import tickets_stream_arn
from chalicelib.domain.attachments import SERVED_TYPES
from chalicelib.web import views
from chalicelib.web.lazy import lazy_module

if TYPE_CHECKING:
    from chalicelib.web import admin, assets, cost, openapi, requesters, saved_replies, webhooks
    from chalicelib.web import attachments as files
    from chalicelib.web import what_if as whatif
    from chalicelib.web.console import views as console
    from chalicelib.web.console import webhooks_view as webhooks_console
    from chalicelib.web.console import what_if_view as whatif_console
else:  # the console's and the admin pages' modules load on their first request, off every other cold path
    assets = lazy_module("chalicelib.web.assets")
    admin = lazy_module("chalicelib.web.admin")
    saved_replies = lazy_module("chalicelib.web.saved_replies")
    console = lazy_module("chalicelib.web.console.views")
    openapi = lazy_module("chalicelib.web.openapi")
    files = lazy_module("chalicelib.web.attachments")
    cost = lazy_module("chalicelib.web.cost")
    whatif = lazy_module("chalicelib.web.what_if")
    requesters = lazy_module("chalicelib.web.requesters")
    whatif_console = lazy_module("chalicelib.web.console.what_if_view")
    webhooks = lazy_module("chalicelib.web.webhooks")
    webhooks_console = lazy_module("chalicelib.web.console.webhooks_view")

app = Chalice(app_name="helpdesk")
app.middleware("all")(meter.measure)  # every invocation meters what it used of AWS (GET /reports/cost)
PUBLIC_BODY = ["application/json", "application/x-www-form-urlencoded"]
FORM = ["application/x-www-form-urlencoded"]
MULTIPART = "multipart/form-data"  # a page's form with a file field
app.api.binary_types.extend([MULTIPART, *SERVED_TYPES])  # uploads arrive, and downloads leave, as bytes


def request() -> Request:
    """The request this invocation serves (Chalice sets it before it calls a route)."""
    if app.current_request is None:
        raise RuntimeError("no request outside a route")
    return app.current_request


@app.route("/tickets", methods=["POST"], content_types=[*PUBLIC_BODY, MULTIPART])
def open_ticket() -> Response:
    return views.open_ticket(request())


@app.route("/tickets", methods=["GET"])
def list_tickets() -> Response:
    return views.list_tickets(request())


@app.route("/tickets", methods=["OPTIONS"])
def tickets_preflight() -> Response:
    return views.preflight(request())


@app.route("/form", methods=["GET"])
def form() -> Response:
    return views.form_page(request())


@app.route("/form/thanks", methods=["GET"])
def thanks() -> Response:
    return views.thanks_page(request())


@app.route("/portal/tickets/{ticket_id}", methods=["GET"])
def portal_ticket(ticket_id: str) -> Response:
    return views.portal_ticket(request(), ticket_id)


@app.route("/portal/tickets/{ticket_id}/comments", methods=["POST"], content_types=[*PUBLIC_BODY, MULTIPART])
def portal_comment(ticket_id: str) -> Response:
    return views.portal_comment(request(), ticket_id)


@app.route("/portal/tickets/{ticket_id}/transitions", methods=["POST"], content_types=PUBLIC_BODY)
def portal_transition(ticket_id: str) -> Response:
    return views.portal_transition(request(), ticket_id)


@app.route("/portal/tickets/{ticket_id}/attachments/{attachment_id}", methods=["GET"])
def portal_attachment(ticket_id: str, attachment_id: str) -> Response:
    return files.portal_download(request(), ticket_id, attachment_id)


@app.route("/portal/tickets/{ticket_id}", methods=["OPTIONS"])
@app.route("/portal/tickets/{ticket_id}/comments", methods=["OPTIONS"])
@app.route("/portal/tickets/{ticket_id}/transitions", methods=["OPTIONS"])
def portal_preflight(ticket_id: str) -> Response:
    return views.preflight(request())


@app.route("/tickets/{ticket_id}", methods=["GET"])
def get_ticket(ticket_id: str) -> Response:
    return views.get_ticket(request(), ticket_id)


@app.route("/tickets/{ticket_id}", methods=["PATCH"])
def change_ticket(ticket_id: str) -> Response:
    return views.change_ticket(request(), ticket_id)


@app.route("/tickets/{ticket_id}/transitions", methods=["POST"])
def transition_ticket(ticket_id: str) -> Response:
    return views.transition_ticket(request(), ticket_id)


@app.route("/tickets/{ticket_id}/history", methods=["GET"])
def ticket_history(ticket_id: str) -> Response:
    return views.ticket_history(request(), ticket_id)


@app.route("/tickets/{ticket_id}/comments", methods=["POST"])
def comment_ticket(ticket_id: str) -> Response:
    return views.comment_ticket(request(), ticket_id)


@app.route("/tickets/{ticket_id}/attachments", methods=["POST"], content_types=["application/json", MULTIPART])
def upload_attachment(ticket_id: str) -> Response:
    return files.upload(request(), ticket_id)


@app.route("/tickets/{ticket_id}/attachments", methods=["GET"])
def ticket_attachments(ticket_id: str) -> Response:
    return files.listing(request(), ticket_id)


@app.route("/tickets/{ticket_id}/attachments/{attachment_id}", methods=["GET"])
def attachment(ticket_id: str, attachment_id: str) -> Response:
    return files.download(request(), ticket_id, attachment_id)


@app.route("/surveys/{token}", methods=["GET"])
def survey_page(token: str) -> Response:
    return views.survey_page(request(), token)


@app.route("/surveys/{token}", methods=["POST"], content_types=PUBLIC_BODY)
def answer_survey(token: str) -> Response:
    return views.answer_survey(request(), token)


@app.route("/unsubscribe/{token}", methods=["GET"])
def unsubscribe_page(token: str) -> Response:
    return views.unsubscribe_page(request(), token)


@app.route("/unsubscribe/{token}", methods=["POST"], content_types=[*PUBLIC_BODY, "multipart/form-data", "text/plain"])
def unsubscribe(token: str) -> Response:
    return views.unsubscribe(request(), token)


@app.route("/me", methods=["GET"])
def me() -> Response:
    return views.me(request())


@app.route("/queues", methods=["GET"])
def queues() -> Response:
    return views.queues(request())


@app.route("/reports/cost", methods=["GET"])
def cost_report() -> Response:
    return cost.report(request())


@app.route("/reports/sla/what-if", methods=["POST"])
def sla_what_if() -> Response:
    return whatif.what_if(request())


@app.route("/reports/{name}", methods=["GET"])
def report(name: str) -> Response:
    return views.report(request(), name)


@app.route("/admin/config", methods=["GET"])
def get_config() -> Response:
    return views.get_config(request())


@app.route("/admin/config", methods=["PUT"])
def put_config() -> Response:
    return views.put_config(request())


@app.route("/admin/outbox", methods=["GET"])
def list_outbox() -> Response:
    return views.list_outbox(request())


@app.route("/admin/outbox/retry", methods=["POST"])
def retry_outbox() -> Response:
    return views.retry_outbox(request())


@app.route("/admin/agents", methods=["GET"])
def list_agents() -> Response:
    return views.list_agents(request())


@app.route("/admin/agents", methods=["POST"])
def create_agent() -> Response:
    return views.create_agent(request())


@app.route("/admin/agents/{agent_id}", methods=["DELETE"])
def revoke_agent(agent_id: str) -> Response:
    return views.revoke_agent(request(), agent_id)


@app.route("/admin/agents/{agent_id}", methods=["PATCH"])
def change_agent(agent_id: str) -> Response:
    return admin.change_agent(request(), agent_id)


@app.route("/admin/config/versions", methods=["GET"])
def config_versions() -> Response:
    return admin.config_versions(request())


@app.route("/admin/requesters/export", methods=["GET"])
def export_requester() -> Response:
    return requesters.export(request())


@app.route("/admin/requesters/erase", methods=["POST"])
def erase_requester() -> Response:
    return requesters.erase(request())


@app.route("/admin/webhooks", methods=["GET"])
def list_webhooks() -> Response:
    return webhooks.list_webhooks(request())


@app.route("/admin/webhooks", methods=["POST"])
def create_webhook() -> Response:
    return webhooks.create_webhook(request())


@app.route("/admin/webhooks/{webhook_id}", methods=["GET"])
def get_webhook(webhook_id: str) -> Response:
    return webhooks.get_webhook(request(), webhook_id)


@app.route("/admin/webhooks/{webhook_id}", methods=["DELETE"])
def delete_webhook(webhook_id: str) -> Response:
    return webhooks.delete_webhook(request(), webhook_id)


@app.route("/admin/webhooks/{webhook_id}/deliveries", methods=["GET"])
def webhook_deliveries(webhook_id: str) -> Response:
    return webhooks.deliveries(request(), webhook_id)


@app.route("/saved-replies", methods=["GET"])
def list_saved_replies() -> Response:
    return saved_replies.list_replies(request())


@app.route("/saved-replies", methods=["POST"])
def create_saved_reply() -> Response:
    return saved_replies.create_reply(request())


@app.route("/saved-replies/{reply_id}", methods=["GET"])
def get_saved_reply(reply_id: str) -> Response:
    return saved_replies.get_reply(request(), reply_id)


@app.route("/saved-replies/{reply_id}", methods=["PUT"])
def update_saved_reply(reply_id: str) -> Response:
    return saved_replies.update_reply(request(), reply_id)


@app.route("/saved-replies/{reply_id}", methods=["DELETE"])
def delete_saved_reply(reply_id: str) -> Response:
    return saved_replies.delete_reply(request(), reply_id)


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    return openapi.serve(request())


# the agents' console (pages; every unsafe request carries the session's CSRF token) ----------------


@app.route("/static/{name}", methods=["GET"])
def static_asset(name: str) -> Response:
    return assets.serve(name)


@app.route("/console", methods=["GET"])
def console_queue() -> Response:
    return console.queue_page(request())


@app.route("/console/poll", methods=["GET"])
def console_poll() -> Response:
    return console.poll(request())


@app.route("/console/rows", methods=["GET"])
def console_rows() -> Response:
    return console.queue_rows(request())


@app.route("/console/bulk", methods=["POST"], content_types=FORM)
def console_bulk() -> Response:
    return console.bulk(request())


@app.route("/console/search", methods=["GET"])
def console_search() -> Response:
    return console.search(request())


@app.route("/console/sign-in", methods=["GET"])
def console_sign_in_page() -> Response:
    return console.sign_in_page(request())


@app.route("/console/sign-in", methods=["POST"], content_types=FORM)
def console_sign_in() -> Response:
    return console.sign_in(request())


@app.route("/console/sign-in/confirm", methods=["GET"])
def console_confirm_page() -> Response:
    return console.confirm_page(request())


@app.route("/console/sign-in/confirm", methods=["POST"], content_types=FORM)
def console_confirm() -> Response:
    return console.confirm(request())


@app.route("/console/sign-out", methods=["POST"], content_types=FORM)
def console_sign_out() -> Response:
    return console.sign_out(request())


@app.route("/console/settings", methods=["GET"])
def console_settings_page() -> Response:
    return console.settings_page(request())


@app.route("/console/settings", methods=["POST"], content_types=FORM)
def console_settings() -> Response:
    return console.save_settings(request())


app.api.binary_types.append(views.RAW_MAIL)  # the original messages are downloaded as sent (8-bit parts too)


@app.route("/console/tickets/{ticket_id}/messages/{message_id}", methods=["GET"])
def original_message(ticket_id: str, message_id: str) -> Response:
    return views.original_message(request(), ticket_id, message_id)


@app.route("/console/tickets/{ticket_id}", methods=["GET"])
def console_ticket(ticket_id: str) -> Response:
    return console.ticket_page(request(), ticket_id)


@app.route("/console/tickets/{ticket_id}/attachments/{attachment_id}", methods=["GET"])
def console_attachment(ticket_id: str, attachment_id: str) -> Response:
    return files.console_download(request(), ticket_id, attachment_id)


@app.route("/console/tickets/{ticket_id}/reply", methods=["POST"], content_types=[*FORM, MULTIPART])
def console_reply(ticket_id: str) -> Response:
    return console.reply(request(), ticket_id)


@app.route("/console/tickets/{ticket_id}/change", methods=["POST"], content_types=FORM)
def console_change(ticket_id: str) -> Response:
    return console.change(request(), ticket_id)


@app.route("/console/tickets/{ticket_id}/transition", methods=["POST"], content_types=FORM)
def console_transition(ticket_id: str) -> Response:
    return console.transition(request(), ticket_id)


@app.route("/console/tickets/{ticket_id}/presence", methods=["POST"], content_types=FORM)
def console_presence(ticket_id: str) -> Response:
    return console.presence(request(), ticket_id)


@app.route("/console/reports", methods=["GET"])
def console_reports() -> Response:
    return console.reports_page(request())


@app.route("/console/reports/{name}/csv", methods=["GET"])
def console_report_csv(name: str) -> Response:
    return console.report_csv(request(), name)


@app.route("/console/admin/agents", methods=["GET"])
def console_agents() -> Response:
    return console.agents_page(request())


@app.route("/console/admin/agents", methods=["POST"], content_types=FORM)
def console_agents_post() -> Response:
    return console.agents_post(request())


@app.route("/console/admin/saved-replies", methods=["GET"])
def console_saved_replies() -> Response:
    return console.saved_replies_page(request())


@app.route("/console/admin/saved-replies", methods=["POST"], content_types=FORM)
def console_saved_replies_post() -> Response:
    return console.saved_replies_post(request())


@app.route("/console/admin/config", methods=["GET"])
def console_config() -> Response:
    return console.config_page(request())


@app.route("/console/admin/config", methods=["POST"], content_types=FORM)
def console_config_post() -> Response:
    return console.config_post(request())


@app.route("/console/admin/cost", methods=["GET"])
def console_cost() -> Response:
    return cost.console_page(request())


@app.route("/console/admin/what-if", methods=["GET"])
def console_what_if() -> Response:
    return whatif_console.page(request())


@app.route("/console/admin/what-if", methods=["POST"], content_types=FORM)
def console_what_if_post() -> Response:
    return whatif_console.post(request())


@app.route("/console/admin/webhooks", methods=["GET"])
def console_webhooks() -> Response:
    return webhooks_console.page(request())


@app.route("/console/admin/webhooks", methods=["POST"], content_types=FORM)
def console_webhooks_post() -> Response:
    return webhooks_console.post(request())


@app.route("/console/admin/webhooks/{webhook_id}", methods=["GET"])
def console_webhook(webhook_id: str) -> Response:
    return webhooks_console.detail(request(), webhook_id)


@app.route("/console/admin/mail", methods=["GET"])
def console_mail() -> Response:
    return console.mail_page(request())


@app.route("/console/admin/mail", methods=["POST"], content_types=FORM)
def console_mail_post() -> Response:
    return console.mail_post(request())


@app.route("/console/admin/requesters", methods=["GET"])
def console_requesters() -> Response:
    return requesters.console_page(request())


@app.route("/console/admin/requesters", methods=["POST"], content_types=FORM)
def console_requesters_erase() -> Response:
    return requesters.console_erase(request())


@app.route("/console/admin/requesters/export", methods=["GET"])
def console_requester_export() -> Response:
    return requesters.console_export(request())


@app.on_dynamodb_record(
    stream_arn=tickets_stream_arn(os.environ),
    batch_size=100,
    starting_position="TRIM_HORIZON",
    name="ticket_changes",
)
def ticket_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """History, SLA timers and time in status from the tickets table's stream; failures are reported per record."""
    return stream.handle_batch(event)


@app.schedule(Rate(1, unit=Rate.HOURS), name="stale_sweep")
def stale_sweep(event: CloudWatchEvent) -> dict[str, Any]:
    """Reminders for tickets left in a status too long, and the configured move after the last one."""
    return jobs.run("stale_sweep")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="sla_sweep")
def sla_sweep(event: CloudWatchEvent) -> dict[str, Any]:
    """Warns when an SLA timer is at risk and alerts when it breaches, once per timer."""
    return jobs.run("sla_sweep")


@app.schedule(Rate(15, unit=Rate.MINUTES), name="survey_sender")
def survey_sender(event: CloudWatchEvent) -> dict[str, Any]:
    """One satisfaction survey per ticket, a while after it is done."""
    return jobs.run("survey_sender")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="outbox_retry")
def outbox_retry(event: CloudWatchEvent) -> dict[str, Any]:
    """Sends again, with back-off, the mail SES did not take; gives up visibly after a bounded number of tries."""
    return jobs.run("outbox_retry")


@app.lambda_function(name="webhook_sender")
def webhook_sender(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sends the webhook deliveries it is handed (invoked without waiting by the stream and the outbox job)."""
    return lazy_module("chalicelib.webhook_entry").send(event)  # type: ignore[no-any-return]


# A placeholder the package replaces with the stack's topic, which SES notifies once it has stored a message in S3.
@app.on_sns_message(topic="arn:aws:sns:us-east-1:000000000000:helpdesk-inbound-mail-unset", name="inbound_mail")
def inbound_mail(event: SNSEvent) -> dict[str, Any]:
    """A message SES received for the desk's address: read from S3 and handed to the inbound service, once."""
    return lazy_module("chalicelib.inbound_entry").inbound_mail(event.message)  # type: ignore[no-any-return]
