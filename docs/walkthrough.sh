#!/usr/bin/env bash
# A walk through the desk over real HTTP, against a running `make run`:
#   HELPDESK_ADMIN_TOKEN=demo-admin make run        # in one terminal
#   TOKEN=demo-admin bash docs/walkthrough.sh       # in another
# It prints each request and the interesting part of each answer. Needs curl and python3.
set -euo pipefail
DESK=${DESK:-http://127.0.0.1:${PORT:-8000}}
TOKEN=${TOKEN:?set TOKEN to the admin token the desk printed}
AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"

show() { printf '\n$ %s\n' "$*" >&2; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
version() { curl -s "$DESK/tickets/$1" -H "$AUTH" | field 'd["version"]'; }
move() {  # move TICKET TO -> prints the new status and version
  local body; body=$(printf '{"to": "%s", "version": %s}' "$2" "$(version "$1")")
  show "curl -s -X POST $DESK/tickets/$1/transitions -H '$AUTH' -H '$JSON' -d '$body'"
  curl -s -X POST "$DESK/tickets/$1/transitions" -H "$AUTH" -H "$JSON" -d "$body" \
    | field '"-> " + d["status"]["label"] + " (version " + str(d["version"]) + ")"'
}

echo "== 1. A defect posted from the plain HTML form, walked through all nine statuses"
show "curl -s -i -X POST $DESK/tickets -d type=defect -d subject=... (a url-encoded form post, as a browser sends)"
location=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST "$DESK/tickets" \
  --data-urlencode type=defect --data-urlencode 'subject=Invoice cannot be saved' \
  --data-urlencode 'description=Saving an invoice with a discount fails with an error.' \
  --data-urlencode 'requester_name=Rosa Diaz' --data-urlencode requester_email=rosa@example.org \
  --data-urlencode product=Billing --data-urlencode version_affected=4.2 \
  --data-urlencode 'steps_to_reproduce=Open an invoice, add a discount, press Save.' \
  --data-urlencode form_token=walkthrough-1 --data-urlencode website=)
echo "303 See Other -> $location"
defect=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlsplit(sys.argv[1]).query)["ticket"][0])' "$location")
show "curl -s '$location'   # the thank-you page"
curl -s "$location" | grep -o 'reference is <strong>[A-Z]*-[0-9]*' | sed 's/<strong>//'
defect_ref=$(curl -s "$DESK/tickets/$defect" -H "$AUTH" | field 'd["ref"]')
show "curl -s $DESK/tickets/$defect_ref -H '$AUTH'"
curl -s "$DESK/tickets/$defect_ref" -H "$AUTH" | field 'd["ref"] + ": " + d["status"]["label"] + ", fields " + str(d["fields"])'
for status in in_review approved in_progress ready_to_test in_testing ready_to_install client_testing completed; do
  move "$defect" "$status"
done

echo; echo "== 2. A forbidden jump is refused, and the allowed transitions are listed"
other=$(curl -s -X POST "$DESK/tickets" -H "$JSON" -d '{"type": "defect", "subject": "Export is slow",
  "description": "CSV export takes minutes.", "requester_name": "Sam", "requester_email": "sam@example.org",
  "fields": {"product": "Reports", "version_affected": "4.2", "steps_to_reproduce": "Export a year."}}' | field 'd["id"]')
body=$(printf '{"to": "completed", "version": %s}' "$(version "$other")")
show "curl -s -w ' HTTP %{http_code}' -X POST $DESK/tickets/$other/transitions -H '$AUTH' -H '$JSON' -d '$body'"
curl -s -w ' HTTP %{http_code}\n' -X POST "$DESK/tickets/$other/transitions" -H "$AUTH" -H "$JSON" -d "$body"

echo; echo "== 3. A consultation through the estimate path; the requester approves in the portal"
show "curl -s -X POST $DESK/tickets -H '$JSON' -d '{\"type\": \"consultation\", ...}'"
opened=$(curl -s -X POST "$DESK/tickets" -H "$JSON" -d '{"type": "consultation", "subject": "Help migrating our member data",
  "description": "We move from spreadsheets to the new CRM.", "requester_name": "Lee Chen",
  "requester_email": "lee@example.org", "fields": {"topic": "Data migration"}}')
echo "$opened"
consult=$(echo "$opened" | field 'd["id"]')
portal=$(echo "$opened" | field 'd["portal_url"]')
for status in needs_estimate estimate_ready estimate_pending_approval; do move "$consult" "$status"; done
show "curl -s '$portal'   # what the requester sees"
curl -s "$portal" | field '"status: " + d["status"]["label"] + "; may: " + ", ".join(t["label"] for t in d["allowed_transitions"])'
seen=$(curl -s "$portal" | field 'd["version"]')
approve=$(printf '{"to": "approved", "comment": "Go ahead.", "version": %s}' "$seen")
show "curl -s -X POST '${portal/\?token=//transitions?token=}' -H '$JSON' -d '$approve'"
curl -s -X POST "${portal/\?token=//transitions?token=}" -H "$JSON" -d "$approve" \
  | field '"-> " + d["status"]["label"]'
show "curl -s $DESK/tickets/$consult -H '$AUTH'   # the agent sees the approval and the comment"
curl -s "$DESK/tickets/$consult" -H "$AUTH" | field 'd["status"]["label"] + "; last comment by " + d["comments"][-1]["author"]["role"] + ": " + d["comments"][-1]["body"]'

echo; echo "== 4. A write based on a stale version is refused"
seen=$(version "$consult")
move "$consult" in_progress
body=$(printf '{"priority": "critical", "version": %s}' "$seen")
show "curl -s -w ' HTTP %{http_code}' -X PATCH $DESK/tickets/$consult -H '$AUTH' -H '$JSON' -d '$body'"
curl -s -w ' HTTP %{http_code}\n' -X PATCH "$DESK/tickets/$consult" -H "$AUTH" -H "$JSON" -d "$body"

echo; echo "== 5. The in-progress queue, a critical ticket first"
move "$other" in_review; move "$other" approved; move "$other" in_progress
late=$(curl -s -X POST "$DESK/tickets" -H "$JSON" -d '{"type": "question", "subject": "Server room is down",
  "description": "Nothing answers.", "requester_name": "Kim", "requester_email": "kim@example.org"}' | field 'd["id"]')
move "$late" in_progress
body=$(printf '{"priority": "critical", "version": %s}' "$(version "$late")")
show "curl -s -X PATCH $DESK/tickets/$late -H '$AUTH' -H '$JSON' -d '$body'"
curl -s -X PATCH "$DESK/tickets/$late" -H "$AUTH" -H "$JSON" -d "$body" | field '"-> priority " + d["priority"]["label"]'
show "curl -s '$DESK/tickets?status=in_progress' -H '$AUTH'"
curl -s "$DESK/tickets?status=in_progress" -H "$AUTH" \
  | field '"\n".join("%-8s %-9s opened %s  %s" % (t["ref"], t["priority"]["label"], t["created_at"][11:19], t["subject"]) for t in d["tickets"])'

echo; echo "== 6. History and SLA timers, kept by the stream pipeline"
sleep 1  # the local run processes the stream within about a second of a write
show "curl -s $DESK/tickets/$consult/history -H '$AUTH'"
curl -s "$DESK/tickets/$consult/history" -H "$AUTH" \
  | field '"\n".join(e["at"][11:19] + "  " + e["kind"] + ("  " + e["from"]["label"] + " -> " + e["to"]["label"] if e["kind"] == "status_changed" else "") for e in d["events"])'
show "curl -s -X POST $DESK/_local/clock -H '$JSON' -d '{\"advance\": \"3d\"}'   # three days pass"
curl -s -X POST "$DESK/_local/clock" -H "$JSON" -d '{"advance": "3d"}' >/dev/null
show "curl -s $DESK/tickets/$late -H '$AUTH'   # the critical ticket's timers"
curl -s "$DESK/tickets/$late" -H "$AUTH" \
  | field '"\n".join(k + ": " + t["state"] + (", breached" if t["breached"] else "") for k, t in d["sla"].items())'

echo; echo "== 7. Mail: a fix left in Client testing gets its reminder after five business days, not before"
fix=$(curl -s -X POST "$DESK/tickets" -H "$JSON" -d '{"type": "defect", "subject": "Export drops the last row",
  "description": "The CSV export misses the final line.", "requester_name": "Lee", "requester_email": "lee@example.org",
  "fields": {"product": "Reports", "version_affected": "4.2", "steps_to_reproduce": "Export any report."}}' | field 'd["id"]')
for status in in_review approved in_progress ready_to_test in_testing ready_to_install client_testing; do
  move "$fix" "$status" >/dev/null 2>&1
done
echo "(moved $fix to Client testing)"
sleep 1  # the stream sends the mail a change causes within about a second
show "curl -s $DESK/_local/outbox   # the last two mails sent"
curl -s "$DESK/_local/outbox" | field '"\n".join(m["to"] + "  " + m["subject"] for m in d["emails"][-2:])'
show "curl -s -X POST $DESK/_local/jobs/stale_sweep   # too early: nothing is due"
curl -s -X POST "$DESK/_local/jobs/stale_sweep" | field '"reminders sent: " + str(d["result"]["reminders"])'
show "curl -s -X POST $DESK/_local/clock -H '$JSON' -d '{\"advance\": \"6d\"}'   # six days pass"
curl -s -X POST "$DESK/_local/clock" -H "$JSON" -d '{"advance": "6d"}' >/dev/null
show "curl -s -X POST $DESK/_local/jobs/stale_sweep   # six days are not yet five business days"
curl -s -X POST "$DESK/_local/jobs/stale_sweep" | field '"reminders sent: " + str(d["result"]["reminders"])'
show "curl -s -X POST $DESK/_local/clock -H '$JSON' -d '{\"advance\": \"9d\"}'   # past five business days, holidays and all"
curl -s -X POST "$DESK/_local/clock" -H "$JSON" -d '{"advance": "9d"}' >/dev/null
show "curl -s -X POST $DESK/_local/jobs/stale_sweep"
curl -s -X POST "$DESK/_local/jobs/stale_sweep" | field '"reminders sent: " + str(d["result"]["reminders"])'
show "curl -s -X POST $DESK/_local/jobs/stale_sweep   # run again: nothing twice"
curl -s -X POST "$DESK/_local/jobs/stale_sweep" | field '"reminders sent: " + str(d["result"]["reminders"])'
show "curl -s $DESK/_local/outbox"
curl -s "$DESK/_local/outbox" | field 'd["emails"][-1]["to"] + "  " + d["emails"][-1]["subject"] + "\n  saved as " + d["emails"][-1]["eml"]'
sleep 1
show "curl -s $DESK/tickets/$fix/history -H '$AUTH'   # the reminder is in the history"
curl -s "$DESK/tickets/$fix/history" -H "$AUTH" | field '"\n".join(e["kind"] for e in d["events"][-2:])'

echo; echo "== 8. Reports: the last 30 days by default, kept by the stream pipeline as tickets changed"
show "curl -s -X POST $DESK/_local/jobs/sla_sweep   # alerts on the breaches of those days, which then count"
curl -s -X POST "$DESK/_local/jobs/sla_sweep" | field '"breach alerts: " + str(d["result"]["breached"])'
sleep 1
show "curl -s '$DESK/reports/workload' -H '$AUTH'"
curl -s "$DESK/reports/workload" -H "$AUTH" \
  | field '"arrivals %(arrivals)s, resolutions %(resolutions)s, reopened %(reopened)s" % d["totals"] + "\n" + d["backlog"]["statement"]'
show "curl -s '$DESK/reports/sla?group_by=priority' -H '$AUTH'"
curl -s "$DESK/reports/sla?group_by=priority" -H "$AUTH" \
  | field '"\n".join("%-9s first response met %s, breached %s; resolution met %s, breached %s" % (g["label"], g["first_response"]["met"], g["first_response"]["breached"], g["resolution"]["met"], g["resolution"]["breached"]) for g in d["groups"])'
show "curl -s '$DESK/reports/time-in-status?type=defect' -H '$AUTH'"
curl -s "$DESK/reports/time-in-status?type=defect" -H "$AUTH" \
  | field '"\n".join("%-24s stays %s, median %s s" % (s["label"], s["stays"], s["median_seconds"]) for s in d["statuses"] if s["stays"])'
show "curl -s '$DESK/reports/sla?format=csv' -H '$AUTH'   # for a spreadsheet"
curl -s "$DESK/reports/sla?format=csv" -H "$AUTH" | cut -d, -f1-5
show "curl -s $DESK/queues -H '$AUTH'   # the backlog now"
curl -s "$DESK/queues" -H "$AUTH" | field '"open %(open)s, at risk %(at_risk)s, breached %(breached)s" % d'
