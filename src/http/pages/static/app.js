// Follows the page's event stream (body[data-events]) and updates the page in place: branch
// state, progress bar, last synced commit, "time since", the run history and the live indicator.
// The page reads fine without it. EventSource reconnects by itself and sends Last-Event-ID (after
// a dropped connection or a server restart); if the browser gives up instead (an HTTP error from a
// proxy, say), a new stream resumes from the last id seen.
// Event names and their fields are ProgressEvent in src/progress/event.rs.
// Page helpers that need no event stream: copy buttons, "in 8 s" countdowns.
(function () {
  "use strict";
  // Copy buttons are hidden in the HTML: without this script the command is selectable text.
  document.querySelectorAll("button.copy[data-copy]").forEach((button) => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    button.hidden = false;
    button.setAttribute("aria-label", "Copy the command");
    button.addEventListener("click", async () => {
      const text = source.textContent.trim();
      let ok = false;
      try {
        await navigator.clipboard.writeText(text);
        ok = true;
      } catch (_) {
        // Plain http or an old browser: select the text and use the legacy command.
        const range = document.createRange();
        range.selectNodeContents(source);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      }
      button.textContent = ok ? "Copied" : "Press Ctrl+C";
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  });
})();

(function () {
  "use strict";
  const url = document.body.dataset.events;
  if (!url || !window.EventSource) return;
  const live = document.getElementById("live");
  const runs = document.querySelector("table.runs tbody");
  const HISTORY = 30;
  let lastId = "";
  let backoff = 1000;

  // Same wording as the server's layout::ago.
  const ago = (ts) => {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
    if (s < 10) return "just now";
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  };
  const tick = () => document.querySelectorAll(".ago[data-ts]").forEach((el) => {
    el.textContent = ago(el.dataset.ts);
  });
  setInterval(tick, 5000);
  // Same wording as layout::seconds.
  const secs = (s) => {
    s = Math.max(0, Math.round(s));
    if (s < 60) return `${s} s`;
    if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  };
  const countdown = () => document.querySelectorAll(".until[data-until]").forEach((el) => {
    const left = (Date.parse(el.dataset.until) - Date.now()) / 1000;
    el.textContent = left > 0 ? `in ${secs(left)}` : "now";
  });
  setInterval(countdown, 1000);
  const maxAttempts = Number((runs && runs.closest("table").dataset.maxAttempts) || 0);
  // "retrying 2/5 in 8 s", as runs::waiting renders it; null clears it.
  const waitNote = (el, d) => {
    if (!el) return;
    if (!d) { el.replaceChildren(); return; }
    const until = new Date(Date.parse(d.at || new Date().toISOString()) + d.retry_in_ms).toISOString();
    const w = document.createElement("span");
    w.className = "wait";
    const t = document.createElement("time");
    t.className = "until";
    t.dataset.until = until;
    t.dateTime = until;
    t.title = until;
    w.append(`retrying ${d.attempt + 1}/${maxAttempts || "?"} `, t);
    el.replaceChildren(" ", w);
    countdown();
  };
  const runPage = document.querySelector("[data-run-page]");

  const short = (sha) => (sha ? sha.slice(0, 7) : "");
  const rows = (project, branch) =>
    document.querySelectorAll(`tr[data-project="${project}"][data-branch="${CSS.escape(branch)}"]`);
  const setState = (el, state) => {
    if (el && state) { el.textContent = state; el.dataset.state = state; }
  };
  const text = (el, value) => { if (el) el.textContent = value; };

  // done/total: a count; total undefined: working, amount unknown; total null: no bar.
  const bar = (row, done, total) => {
    const b = row.querySelector("progress.bar");
    if (!b) return;
    clearTimeout(b.hideTimer);
    const count = row.querySelector(".count");
    if (total === null) { b.hidden = true; text(count, ""); return; }
    b.hidden = false;
    if (total === undefined) { b.removeAttribute("value"); text(count, ""); return; }
    b.max = Math.max(total, 1);
    b.value = done;
    text(count, `${done}/${total}`);
  };
  const finished = (row) => {
    const b = row.querySelector("progress.bar");
    if (!b || b.hidden) return;
    b.max = 1; b.value = 1;
    text(row.querySelector(".count"), "");
    b.hideTimer = setTimeout(() => bar(row, 0, null), 1500);
  };
  const synced = (row, sha, at) => {
    const cell = row.querySelector(".sha");
    if (cell && sha) {
      const a = document.createElement("a");
      a.href = (row.dataset.commitUrl || "#") + sha;
      const code = document.createElement("code");
      code.textContent = short(sha);
      a.appendChild(code);
      cell.replaceChildren(a);
    }
    const when = row.querySelector(".ago");
    if (when && at) { when.dataset.ts = at; when.dateTime = at; when.title = at; when.textContent = ago(at); }
  };

  // The run's row in the history (project page), added at the top for runs newer than the page.
  const runRow = (d) => {
    if (!runs || !d.run_id) return null;
    let tr = runs.querySelector(`tr[data-run="${d.run_id}"]`);
    if (tr) return tr;
    tr = document.createElement("tr");
    tr.dataset.run = d.run_id;
    // The classes runs::table gives its cells (opt: hidden on phones).
    ["run", "branch", "trigger opt", "status", "shas opt", "changed opt", "fetched opt", "requests opt", "duration", "error"]
      .forEach((c) => { const td = document.createElement("td"); td.className = c; tr.appendChild(td); });
    const link = document.createElement("a");
    link.href = `/projects/${d.project_id}/runs/${d.run_id}`;
    link.textContent = d.run_id;
    tr.querySelector(".run").appendChild(link);
    text(tr.querySelector(".branch"), d.branch);
    const state = document.createElement("span");
    state.className = "state";
    const wait = document.createElement("span");
    wait.className = "waiting";
    tr.querySelector(".status").append(state, wait);
    runs.prepend(tr);
    while (runs.rows.length > HISTORY) runs.deleteRow(-1);
    return tr;
  };
  const runStatus = (tr, status) => { if (tr) setState(tr.querySelector(".state"), status); };
  // "from → to", as the server renders stored runs.
  const runShas = (tr, from, to) => {
    const code = (text) => { const c = document.createElement("code"); c.textContent = text; return c; };
    tr.querySelector(".shas").replaceChildren(code(short(from) || "—"), " → ", code(short(to) || "head"));
  };

  // Rows for branches or projects that appeared after the page loaded need the server: say so.
  const stale = (why) => {
    let note = document.getElementById("stale");
    if (!note) {
      note = document.createElement("p");
      note.id = "stale";
      note.className = "notice";
      note.setAttribute("role", "status");
      document.querySelector("main").prepend(note);
    }
    const reload = document.createElement("a");
    reload.href = location.pathname;
    reload.textContent = "Reload";
    note.replaceChildren(`${why} `, reload);
  };

  const apply = (kind, d) => {
    if (runPage && d && String(d.run_id) === runPage.dataset.runPage) stale(`This run is ${kind} now.`);
    if (kind === "selection_changed" && d && d.branches) stale("The branch selection changed.");
    if (!d || !d.branch) return;
    if (kind === "queued" && !rows(d.project_id, d.branch).length) stale(`New branch ${d.branch} is syncing.`);
    const run = runRow(d);
    if (run && d.trigger) text(run.querySelector(".trigger"), d.trigger);
    rows(d.project_id, d.branch).forEach((row) => {
      if (kind === "queued") setState(row.querySelector(".state"), "queued");
      if (kind === "started") { setState(row.querySelector(".state"), "syncing"); bar(row, 0, undefined); }
      if (kind === "progress") bar(row, d.done, d.total);
      if (kind === "succeeded") { setState(row.querySelector(".state"), "synced"); finished(row); synced(row, d.sha, d.at); }
      if (kind === "failed") {
        setState(row.querySelector(".state"), d.will_retry ? "queued" : "failed");
        bar(row, 0, null);
        waitNote(row.querySelector(".waiting"), d.will_retry && d.retry_in_ms != null ? d : null);
      }
      if (kind === "started" || kind === "succeeded") waitNote(row.querySelector(".waiting"), null);
      if (kind === "selection_changed") setState(row.querySelector(".state"), d.state);
    });
    if (!run) return;
    if (kind === "queued") {
      runStatus(run, "queued");
      runShas(run, d.from_sha, d.target_sha);
    }
    if (kind === "started" || kind === "succeeded") waitNote(run.querySelector(".waiting"), null);
    if (kind === "started" || kind === "progress") {
      runStatus(run, "running");
      // The run's start is its first attempt's: a retry does not restart the duration.
      if (kind === "started") {
        if (d.started_at || d.at) run.dataset.started = d.started_at || d.at;
        runShas(run, d.from_sha, d.target_sha);
      }
    }
    if (kind === "succeeded") {
      runStatus(run, "succeeded");
      runShas(run, d.from_sha, d.sha);
      text(run.querySelector(".changed"), `${d.files_changed} / ${d.files_total}`);
      text(run.querySelector(".fetched"), d.files_fetched);
      text(run.querySelector(".requests"), d.api_requests);
      if (run.dataset.started && d.at) {
        text(run.querySelector(".duration"), `${Date.parse(d.at) - Date.parse(run.dataset.started)} ms`);
      }
    }
    if (kind === "failed") {
      runStatus(run, d.will_retry ? "queued" : "failed");
      if (d.target_sha) runShas(run, d.from_sha, d.target_sha);
      if (d.files_total != null) text(run.querySelector(".changed"), `${d.files_changed} / ${d.files_total}`);
      text(run.querySelector(".error"), d.error || "");
      waitNote(run.querySelector(".waiting"), d.will_retry && d.retry_in_ms != null ? d : null);
    }
  };

  // The state now, sent first on every fresh connection: corrects anything missed.
  const snapshot = (d) => (d.projects || [d]).forEach((p) => (p.branches || []).forEach((b) =>
    rows(p.project_id, b.name).forEach((row) => {
      setState(row.querySelector(".state"), b.state);
      synced(row, b.last_synced_sha, b.last_synced_at);
      if (b.state === "syncing") { if (row.querySelector("progress.bar[hidden]")) bar(row, 0, undefined); }
      else bar(row, 0, null);
    })));

  const indicator = (on, label) => {
    if (!live) return;
    live.hidden = false;
    live.textContent = label;
    live.classList.toggle("on", on);
  };

  const connect = () => {
    const es = new EventSource(lastId ? `${url}?last_event_id=${encodeURIComponent(lastId)}` : url);
    es.onopen = () => { backoff = 1000; indicator(true, "● live"); };
    es.onerror = () => {
      if (es.readyState !== EventSource.CLOSED) { indicator(false, "○ reconnecting"); return; }
      // The browser gave up on this stream: open another one, later.
      indicator(false, "○ offline, retrying");
      es.close();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
    const on = (kind, handle) => es.addEventListener(kind, (e) => {
      if (e.lastEventId) lastId = e.lastEventId;
      let data;
      try { data = JSON.parse(e.data); } catch (_) { return; }
      handle(data);
    });
    on("snapshot", snapshot);
    ["queued", "started", "progress", "succeeded", "failed", "selection_changed"]
      .forEach((kind) => on(kind, (d) => apply(kind, d)));
  };
  connect();
})();
