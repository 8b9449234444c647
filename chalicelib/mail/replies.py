"""The new text of a reply: the desk's marker, quoted earlier messages and signatures cut (pure, standard library).

The rules, in order (each one only ever cuts the end of the text, except where said):
1. The desk's marker line (`REPLY_MARKER`, quoted or not) and everything after it.
2. The first header of an earlier message that the client wrote unquoted below the reply, and everything after it:
   an Outlook header block ("From: … / Sent: … / To: … / Subject: …", also German, French, Spanish, Dutch, Italian,
   Portuguese; with or without the line of underscores above it) or an "-----Original Message-----" line
   (also localized).
3. The trailing block of `>`-quoted lines, then the attribution line above it ("On 3 Mar 2025, at 10:00, Ada
   <ada@example.com> wrote:", Gmail's, Apple Mail's and Thunderbird's, in English, German, French, Spanish,
   Dutch, Italian, Portuguese; also when wrapped over two lines). Quoted lines followed by new text are an
   inline or bottom-posted reply: they stay, with their attribution, so the answers keep their questions.
4. An attribution line followed by unquoted text (HTML mail converted without a blockquote) and everything after.
5. The signature: from the first "-- " line (RFC 3676; also "--") to the end, and a trailing "Sent from my
   iPhone"-style line (several languages).
Forwarded messages ("---------- Forwarded message ---------") are not cut: what someone forwards is the content.
"""

from __future__ import annotations

import re

REPLY_MARKER = "##- Please type your reply above this line -##"

_QUOTED = re.compile(r"^[ \t]*>")
_LINE_LIMIT = 400  # attribution and header lines are short; longer lines are prose
_ATTRIBUTIONS = (
    re.compile(r"^On\s.*\d.*\swrote\s?:$"),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^Am\s.*\d.*\sschrieb(?:\s.*)?:$"),
    re.compile(r"^Le\s.*\d.*\sa\s[ée]crit\s?:$"),
    re.compile(r"^El\s.*\d.*\sescribi[óo]\s?:$"),
    re.compile(r"^Op\s.*\d.*\sschreef(?:\s.*)?:$"),
    re.compile(r"^Il\s.*\d.*\sha\sscritto\s?:$"),
    re.compile(r"^Em\s.*\d.*\sescreveu\s?:$"),
)
_FROM_FIELD = re.compile(r"^\*?(?:From|Von|De|Van|Da|Fra|Från)\s?:\*?\s*\S", re.IGNORECASE)
_OTHER_FIELD = re.compile(
    r"^\*?(?:Sent|Date|To|Cc|Subject|Gesendet|Datum|An|Betreff|Envoy[ée]|À|A|Objet|Enviado|Fecha|Para|Asunto|"
    r"Verzonden|Aan|Onderwerp|Inviato|Oggetto|Data|Assunto)\s?:\*?(?:\s|$)",
    re.IGNORECASE,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Original-Nachricht|Message d'origine|Mensaje original|"
    r"Oorspronkelijk bericht|Messaggio originale|Mensagem original)\s*-{2,}$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^_{10,}$")
_SIGNATURE_DELIMITER = re.compile(r"^--[ \t]?$")
_SENT_FROM = re.compile(
    r"^(?:Sent from (?:my |Mail for |Yahoo Mail |Outlook ).{0,40}|Get Outlook for .{0,40}|"
    r"Von meinem .{0,40} gesendet|Gesendet von meinem .{0,40}|Envoy[ée] de mon .{0,40}|Enviado desde mi .{0,40}|"
    r"Verzonden vanaf mijn .{0,40}|Inviato da .{0,40}|Enviado do meu .{0,40})$",
    re.IGNORECASE,
)
_HEADER_WINDOW = 6  # lines below a "From:" line that may hold the rest of the header block (wrapped values too)


def _is_attribution(line: str) -> bool:
    line = line.strip()
    return len(line) <= _LINE_LIMIT and any(pattern.match(line) for pattern in _ATTRIBUTIONS)


def _attribution_at(lines: list[str], index: int) -> int:
    """How many lines (1 or 2; 0 for none) the attribution starting at `index` takes."""
    if _QUOTED.match(lines[index]):
        return 0
    if _is_attribution(lines[index]):
        return 1
    wrapped = index + 1 < len(lines) and lines[index].strip() and not _QUOTED.match(lines[index + 1])
    if wrapped and _is_attribution(lines[index].strip() + " " + lines[index + 1].strip()):
        return 2
    return 0


def _is_header_block(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if len(line) > _LINE_LIMIT or not _FROM_FIELD.match(line):
        return False
    window = [candidate.strip() for candidate in lines[index + 1 : index + 1 + _HEADER_WINDOW]]
    return sum(1 for candidate in window if _OTHER_FIELD.match(candidate)) >= 2


def _earlier_message_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _QUOTED.match(line):
            continue
        stripped = line.strip()
        if _ORIGINAL_MESSAGE.match(stripped):
            return index
        if _is_header_block(lines, index):
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            return above if above >= 0 and _UNDERSCORES.match(lines[above].strip()) else index
    return None


def _blank(line: str) -> bool:
    return not line.strip()


def _cut_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (_blank(lines[end - 1]) or _QUOTED.match(lines[end - 1])):
        end -= 1
    if end == len(lines):
        return lines
    kept = lines[:end]
    for size in (1, 2):
        if len(kept) >= size and _attribution_at(kept, len(kept) - size) == size:
            return kept[: len(kept) - size]
    return kept


def _cut_unquoted_attribution(lines: list[str]) -> list[str]:
    for index in range(len(lines)):
        size = _attribution_at(lines, index)
        if not size:
            continue
        following = next((line for line in lines[index + size :] if not _blank(line)), None)
        if following is None or not _QUOTED.match(following):
            return lines[:index]
    return lines


def _cut_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index and _SIGNATURE_DELIMITER.match(line.rstrip("\r")) and not _QUOTED.match(line):
            lines = lines[:index]
            break
    while lines and _blank(lines[-1]):
        lines = lines[:-1]
    if len(lines) > 1 and _SENT_FROM.match(lines[-1].strip()):
        lines = lines[:-1]
    return lines


def new_text(text: str, marker: str | None = REPLY_MARKER) -> str:
    """The text the sender wrote in this mail (see the module's rules); "" when nothing new is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if marker and marker.strip():
        needle = marker.strip()
        cut = next((index for index, line in enumerate(lines) if needle in line), None)
        if cut is not None:
            lines = lines[:cut]
    start = _earlier_message_start(lines)
    if start is not None:
        lines = lines[:start]
    lines = _cut_trailing_quote(lines)
    lines = _cut_unquoted_attribution(lines)
    lines = _cut_signature(lines)
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()
