// Follows the page's event stream (data-events) and updates branch rows in place. EventSource
// reconnects by itself and sends Last-Event-ID, so nothing is missed across server restarts.
(function () {
  "use strict";
  const url = document.body.dataset.events;
  if (!url || !window.EventSource) return;
  const live = document.getElementById("live");
  const rows = (project, branch) =>
    document.querySelectorAll(`tr[data-project="${project}"][data-branch="${CSS.escape(branch)}"]`);
  const setState = (row, state) => {
    const el = row.querySelector(".state");
    if (el) { el.textContent = state; el.dataset.state = state; }
  };
  const apply = (kind, d) => {
    if (!d || !d.branch) return;
    rows(d.project_id, d.branch).forEach((row) => {
      const bar = row.querySelector("progress.bar");
      const count = row.querySelector(".count");
      if (kind === "queued") setState(row, "queued");
      if (kind === "started") { setState(row, "syncing"); if (bar) { bar.hidden = false; bar.value = 0; } }
      if (kind === "progress" && bar) {
        bar.hidden = false; bar.max = Math.max(d.total, 1); bar.value = d.done;
        if (count) count.textContent = ` ${d.done}/${d.total}`;
      }
      if (kind === "succeeded") {
        setState(row, "synced");
        if (bar) { bar.max = 1; bar.value = 1; }
        if (count) count.textContent = "";
        const sha = row.querySelector(".sha");
        if (sha && d.sha) {
          const base = (document.querySelector("h1 a") || {}).href || "";
          sha.innerHTML = "";
          const a = document.createElement("a");
          a.href = base ? `${base}/commit/${d.sha}` : "#";
          const code = document.createElement("code");
          code.textContent = d.sha.slice(0, 7);
          a.appendChild(code); sha.appendChild(a);
        }
        const ago = row.querySelector(".ago");
        if (ago) { ago.dataset.ts = new Date().toISOString(); ago.textContent = "just now"; }
      }
      if (kind === "failed") setState(row, d.will_retry ? "queued" : "failed");
      if (kind === "selection_changed" && d.state) setState(row, d.state);
    });
  };
  const es = new EventSource(url);
  es.onopen = () => { if (live) { live.textContent = "● live"; live.classList.add("on"); } };
  es.onerror = () => { if (live) { live.textContent = "○ reconnecting"; live.classList.remove("on"); } };
  es.addEventListener("snapshot", (e) => {
    const d = JSON.parse(e.data);
    (d.projects || [d]).forEach((p) => (p.branches || []).forEach((b) =>
      rows(p.project_id, b.name).forEach((row) => setState(row, b.state))));
  });
  ["queued", "started", "progress", "succeeded", "failed", "selection_changed"].forEach((kind) =>
    es.addEventListener(kind, (e) => apply(kind, JSON.parse(e.data))));
})();
