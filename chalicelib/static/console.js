/* The agents' console, enhanced: every page works without this script; with it the queue refreshes itself,
   SLA badges count down, presence is shown, saved replies are inserted and the keyboard does the work. */
(function () {
  "use strict";
  var body = document.body;
  body.classList.add("js");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function sessionEnded() {
    var banner = document.getElementById("session-ended");
    if (banner) { banner.hidden = false; }
  }

  /* SLA countdowns ------------------------------------------------------------------------------ */
  function human(ms) {
    var s = Math.max(Math.floor(Math.abs(ms) / 1000), 0);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) { return d + "d " + h + "h"; }
    if (h) { return h + "h " + m + "m"; }
    return m + "m";
  }
  /* The desk's clock, not this computer's: the page says what time the desk had when it was drawn (data-now, in
     epoch ms), and the countdowns run from there. A skewed computer clock, or a local run's advanced clock, then
     changes nothing. */
  var clockOffset = 0;
  function setClock(el) {
    var serverNow = el ? Number(el.getAttribute("data-now")) : NaN;
    if (serverNow > 0) { clockOffset = serverNow - Date.now(); }
  }
  function deskNow() { return Date.now() + clockOffset; }
  setClock(body);
  /* Worded as the server words it (views.py breached_text). */
  function breachedText(left) {
    if (left > 0) { return "Breached"; }
    if (-left < 60000) { return "Breached just now"; }
    return "Breached " + human(-left) + " ago";
  }
  function tick() {
    var now = deskNow();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var level = el.getAttribute("data-level");
      if (!due || level === "paused") { return; }
      var left = due - now;
      if (left <= 0 || level === "breached") {
        el.textContent = breachedText(left);
        el.className = "sla sla-breached";
        el.setAttribute("data-level", "breached");
      } else {
        el.textContent = human(left) + " left";
      }
    });
  }
  tick();
  setInterval(tick, 30000);

  /* The queue: poll with a change token, only while the tab is visible -------------------------- */
  /* Every poll is a request the desk pays for (API Gateway and Lambda): soon after a change, then half as often
     after each answer that says nothing changed, down to data-poll-max-ms; a change or the tab coming back into
     view starts again from data-poll-ms. A hidden tab never polls. */
  var queue = document.querySelector(".queue[data-poll-url]");
  var POLL_MS = queue ? Number(queue.getAttribute("data-poll-ms")) || 30000 : 30000;
  var POLL_MAX_MS = queue ? Math.max(Number(queue.getAttribute("data-poll-max-ms")) || POLL_MS, POLL_MS) : POLL_MS;
  var pollDelay = POLL_MS;
  var pollTimer = null;
  function schedulePoll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, pollDelay);
  }
  function rowIds(tbody) {
    return Array.prototype.map.call(tbody.querySelectorAll("tr[data-id]"), function (tr) { return tr.getAttribute("data-id"); });
  }
  function poll() {
    if (!queue || document.visibilityState !== "visible") { return; }  /* coming back into view polls again */
    var url = queue.getAttribute("data-poll-url") + "&token=" + encodeURIComponent(queue.getAttribute("data-token"));
    var ended = false;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (r.status === 401) { ended = true; sessionEnded(); throw new Error("signed out"); }
      return r.json();
    }).then(function (answer) {
      if (!answer.changed) { pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS); return; }
      pollDelay = POLL_MS;
      return fetch(queue.getAttribute("data-rows-url"), { credentials: "same-origin" }).then(function (r) { return r.text(); })
        .then(function (text) { refresh(new DOMParser().parseFromString(text, "text/html"), answer.token); });
    }).catch(function () { /* the next poll tries again */ }).then(function () {
      /* How many answers the page has handled: the next poll is scheduled from here on (tests wait on it). */
      queue.setAttribute("data-polls-answered", String(Number(queue.getAttribute("data-polls-answered") || 0) + 1));
      if (!ended) { schedulePoll(); }
    });
  }
  function refresh(doc, token) {
    queue.setAttribute("data-token", token);
    setClock(doc.querySelector("[data-now]"));
    var counts = doc.querySelectorAll("[data-count-for]");
    counts.forEach(function (el) {
      var mine = document.querySelector('[data-count-for="' + el.getAttribute("data-count-for") + '"]');
      if (mine) { mine.textContent = el.textContent; }
    });
    var fresh = doc.getElementById("queue-rows");
    var current = document.getElementById("queue-rows");
    if (!fresh || !current) { return; }
    var before = rowIds(current), after = rowIds(fresh);
    var added = after.filter(function (id) { return before.indexOf(id) < 0; });
    var nextPage = doc.getElementById("queue-next");
    var below = nextPage ? (nextPage.getAttribute("data-ids") || "").split(" ").filter(Boolean) : [];
    var missing = before.filter(function (id) { return after.indexOf(id) < 0; });
    // A ticket pushed down onto the next page by new ones is still in the view: only the others left it.
    var movedDown = missing.filter(function (id) { return below.indexOf(id) >= 0; });
    var gone = missing.filter(function (id) { return below.indexOf(id) < 0; });
    // Rows still in the list are updated where they stand; new ones are announced, not slipped under the cursor.
    after.forEach(function (id) {
      var old = current.querySelector('tr[data-id="' + id + '"]');
      var neu = fresh.querySelector('tr[data-id="' + id + '"]');
      if (old && neu) {
        var box = old.querySelector('input[type="checkbox"]');
        var checked = box && box.checked;
        var selected = old.classList.contains("selected");
        old.innerHTML = neu.innerHTML;
        old.className = neu.className + (selected ? " selected" : "");
        var newBox = old.querySelector('input[type="checkbox"]');
        if (newBox) { newBox.checked = checked; }
      }
    });
    gone.forEach(function (id) {
      var old = current.querySelector('tr[data-id="' + id + '"]');
      if (old) { old.classList.add("gone"); old.setAttribute("title", "No longer in this view"); }
    });
    movedDown.forEach(function (id) {
      var old = current.querySelector('tr[data-id="' + id + '"]');
      if (old) { old.setAttribute("title", "Moved down to the next page of this view"); }
    });
    tick();
    if (added.length || gone.length || movedDown.length) {
      var news = document.getElementById("queue-news");
      news.textContent = "";
      var text = document.createElement("span");
      var parts = [];
      if (added.length) { parts.push(added.length + (added.length === 1 ? " new ticket" : " new tickets")); }
      if (gone.length) { parts.push(gone.length + " left this view"); }
      if (movedDown.length) { parts.push(movedDown.length + " moved down to the next page"); }
      text.textContent = parts.join(", ") + ". ";
      var show = document.createElement("button");
      show.type = "button";
      show.className = "secondary";
      show.textContent = "Show the updated list";
      show.addEventListener("click", function () {
        current.replaceWith(fresh);
        news.hidden = true;
        tick();
      });
      news.appendChild(text);
      news.appendChild(show);
      news.hidden = false;
    }
  }
  if (queue) {
    schedulePoll();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { pollDelay = POLL_MS; clearTimeout(pollTimer); poll(); }
    });
  }

  /* A ticket: presence heartbeats, Ctrl+Enter, saved replies, reply or note ---------------------- */
  var ticket = document.querySelector(".ticket[data-presence-url]");
  var composer = document.getElementById("composer");
  var textarea = document.getElementById("body");
  var lastTyped = 0;
  function beat() {
    if (!ticket || document.visibilityState !== "visible") { return; }
    var form = new URLSearchParams();
    form.set("csrf", csrf);
    form.set("typing", Date.now() - lastTyped < 15000 ? "1" : "0");
    fetch(ticket.getAttribute("data-presence-url"), {
      method: "POST", credentials: "same-origin", body: form,
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" }
    }).then(function (r) {
      if (r.status === 401) { sessionEnded(); throw new Error("signed out"); }
      return r.json();
    }).then(function (answer) {
      var box = document.getElementById("presence");
      var others = answer.others || [];
      box.textContent = others.length ? "Also here: " + others.map(function (o) {
        return o.name + (o.typing ? " (typing a reply)" : "");
      }).join(", ") : "";
    }).catch(function () {});
  }
  if (ticket) {
    /* Rendering the page was the first heartbeat; the next ones keep it fresh. */
    setInterval(beat, 20000);
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") { beat(); } });
  }
  function markKind() {
    if (!composer) { return; }
    var note = document.getElementById("kind-note");
    composer.classList.toggle("as-note", !!(note && note.checked));
    var send = document.getElementById("send");
    if (send && send.textContent.indexOf("anyway") < 0) { send.textContent = note && note.checked ? "Add note" : "Send reply"; }
  }
  if (composer) {
    composer.addEventListener("change", markKind);
    markKind();
    textarea.addEventListener("input", function () {
      var wasIdle = Date.now() - lastTyped > 15000;
      lastTyped = Date.now();
      if (wasIdle) { beat(); }
    });
    composer.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (composer.reportValidity()) { composer.requestSubmit(); }
      }
    });
    var pick = document.getElementById("saved-reply");
    var filter = document.getElementById("saved-filter");
    if (pick && filter) {
      filter.addEventListener("input", function () {
        var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
        Array.prototype.forEach.call(pick.options, function (option) {
          if (!option.value) { return; }
          var text = (option.textContent + " " + option.getAttribute("data-body")).toLowerCase();
          option.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
        });
      });
    }
    if (pick) {
      pick.addEventListener("change", function () {
        var option = pick.options[pick.selectedIndex];
        if (!option || !option.value) { return; }
        var text = option.getAttribute("data-body");
        textarea.value = textarea.value ? textarea.value.replace(/\s*$/, "\n\n") + text : text;
        var move = option.getAttribute("data-status");
        if (move) {
          var select = document.getElementById("move_to");
          if (select.querySelector('option[value="' + move + '"]')) { select.value = move; }
        }
        document.getElementById("draft-priority").value = option.getAttribute("data-priority") || "";
        document.getElementById(option.getAttribute("data-public") === "no" ? "kind-note" : "kind-reply").checked = true;
        markKind();
        pick.value = "";
        textarea.focus();
      });
    }
  }

  /* Confirmations for destructive admin actions ------------------------------------------------ */
  document.querySelectorAll("form.confirm-first").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  /* Keyboard ------------------------------------------------------------------------------------ */
  var help = document.getElementById("shortcuts-help");
  var shortcutsOn = body.classList.contains("shortcuts-on");
  function typingInField(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#queue-rows tr[data-href]")); }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var at = all.findIndex(function (tr) { return tr.classList.contains("selected"); });
    var next = Math.min(Math.max(at + step, 0), all.length - 1);
    if (at >= 0) { all[at].classList.remove("selected"); }
    all[next].classList.add("selected");
    var link = all[next].querySelector("td.ref a");
    if (link) { link.focus(); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event.target)) { return; }
    // With single-key shortcuts off, no single key does anything: `?` included (the settings page turns them on).
    if (!shortcutsOn) { return; }
    if (event.key === "?" && help) { event.preventDefault(); if (help.open) { help.close(); } else { help.showModal(); } return; }
    var key = event.key;
    if (key === "j") { event.preventDefault(); move(1); }
    else if (key === "k") { event.preventDefault(); move(-1); }
    else if (key === "Enter") {
      var selected = document.querySelector("#queue-rows tr.selected");
      if (selected && document.activeElement === document.body) { window.location = selected.getAttribute("data-href"); }
    }
    else if (key === "/") { var q = document.getElementById("q"); if (q) { event.preventDefault(); q.focus(); } }
    else if ((key === "r" || key === "n") && textarea) {
      event.preventDefault();
      document.getElementById(key === "r" ? "kind-reply" : "kind-note").checked = true;
      markKind();
      textarea.focus();
    }
    else if (key === "a") {
      var assign = document.getElementById("assign-me");
      if (assign && !assign.disabled) { event.preventDefault(); document.getElementById("assign-me-form").requestSubmit(); }
    }
  });
})();
