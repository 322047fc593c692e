// pushd console: plain JavaScript over pushd's JSON API. The API key is kept
// in this tab's sessionStorage and sent as X-API-Key to this server only.
"use strict";

(function () {
  const KEY = "pushd.apiKey";
  const APP = "pushd.app";
  const pages = ["overview", "user", "push", "trace", "cluster"];
  let overview = null; // the last GET /v1/overview answer

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  function setStatus(id, kind, text) {
    const s = $(id);
    s.className = "status" + (kind ? " " + kind : "");
    s.textContent = text || "";
  }

  function when(ms) {
    if (!ms) return "—";
    const d = new Date(ms);
    return d.toLocaleString();
  }

  function verdictBadge(v) {
    return el("span", { class: "badge " + (v || "none"), text: v || "no push yet" });
  }

  // ApiError is a failed call: the HTTP status and pushd's error code.
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const key = sessionStorage.getItem(KEY);
    const opts = { method, headers: { "X-API-Key": key || "" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, "network", "pushd did not answer (" + e.message + ")");
    }
    let data = null;
    const text = await resp.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const e = new ApiError(resp.status, err.code || "http_" + resp.status, err.message || text || resp.statusText);
      if (resp.status === 401) {
        signOut("The API key was refused: " + e.message);
      }
      throw e;
    }
    return data;
  }

  function describe(e) {
    if (e.code === "unauthorized") return "The API key was refused.";
    return e.message + (e.code ? " (" + e.code + (e.status ? ", HTTP " + e.status : "") + ")" : "");
  }

  // --- sign-in ---

  function signOut(reason) {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(APP);
    show("login");
    if (reason) {
      $("login-error").textContent = reason;
      $("login-error").hidden = false;
    }
  }

  async function signIn(key) {
    sessionStorage.setItem(KEY, key);
    $("login-error").hidden = true;
    try {
      overview = await api("GET", "/v1/overview");
    } catch (e) {
      if (e.status !== 401) {
        signOut("Could not open the console: " + describe(e));
      }
      return false;
    }
    sessionStorage.setItem(APP, overview.app);
    return true;
  }

  // --- pages ---

  function show(page) {
    const signedIn = !!sessionStorage.getItem(KEY);
    if (!signedIn) page = "login";
    for (const p of ["login", ...pages]) {
      $("page-" + p).hidden = p !== page;
    }
    $("nav").hidden = !signedIn;
    $("session").hidden = !signedIn;
    $("app-name").textContent = signedIn ? "app " + (sessionStorage.getItem(APP) || "") : "";
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.dataset.page === page);
    }
    if (page === "login") {
      $("api-key").focus();
      return;
    }
    document.title = "pushd console · " + page;
    const load = { overview: loadOverview, push: preparePush, cluster: loadCluster }[page];
    if (load) load();
  }

  function route() {
    const page = (location.hash || "#overview").slice(1).split("?")[0];
    show(pages.includes(page) ? page : "overview");
  }

  // Overview

  const verdictColumns = ["delivered", "retry", "token_invalid", "auth_expired", "quota_exhausted", "bad_request", "expired"];

  async function loadOverview() {
    setStatus("overview-status", "info", "Loading…");
    try {
      overview = await api("GET", "/v1/overview");
    } catch (e) {
      setStatus("overview-status", "error", "Could not load the overview: " + describe(e));
      return;
    }
    setStatus("overview-status", "", "");
    $("overview-node").textContent = "App " + overview.app + " on node " + overview.node +
      (overview.outbox_complete ? "" : " (outbox larger than one read: backlog counts are partial)");
    const tbody = $("overview-table").querySelector("tbody");
    tbody.replaceChildren();
    if (!overview.providers.length) {
      tbody.append(el("tr", {}, el("td", { colspan: 11, text: "No provider is configured for this app." })));
    }
    for (const p of overview.providers) {
      const configured = overview.configured.includes(p.provider);
      tbody.append(el("tr", { "data-provider": p.provider },
        el("td", {}, el("strong", { text: p.provider }), configured ? "" : el("span", { class: "hint", text: " (not configured)" })),
        verdictColumns.map((v) => el("td", { class: "num", text: p.pushes[v] || 0 })),
        el("td", { class: "num", text: p.held }),
        el("td", { class: "num", text: p.pending }),
        el("td", { class: "num", text: p.retrying }),
      ));
    }
  }

  // User lookup

  async function lookupUser(user) {
    $("user-result").hidden = true;
    setStatus("user-status", "info", "Looking up " + user + "…");
    let devices, streams;
    try {
      [devices, streams] = await Promise.all([
        api("GET", "/v1/users/" + encodeURIComponent(user) + "/devices"),
        api("GET", "/v1/users/" + encodeURIComponent(user) + "/streams?limit=20").catch((e) => ({ error: e })),
      ]);
    } catch (e) {
      setStatus("user-status", "error", "Could not look up " + user + ": " + describe(e));
      return;
    }
    const msgs = streams.error ? 0 : streams.streams.reduce((n, s) => n + s.last_seq, 0);
    if (!devices.devices.length && !msgs) {
      setStatus("user-status", "error", "No user " + user + " here: no devices bound and no messages stored (check the user id).");
      return;
    }
    setStatus("user-status", "ok", user + ": " + devices.devices.length + " device binding(s)");
    const cursors = (streams && streams.cursors) || {};
    const tbody = $("user-devices").querySelector("tbody");
    tbody.replaceChildren();
    if (!devices.devices.length) {
      tbody.append(el("tr", {}, el("td", { colspan: 9, text: "No device is bound: nothing can be pushed to this user." })));
    }
    for (const d of devices.devices) {
      const cur = cursors[d.device_id] || {};
      tbody.append(el("tr", { "data-push-id": d.push_id },
        el("td", { text: d.device_id }),
        el("td", { text: d.provider + (d.apns_env ? " (" + d.apns_env + ")" : "") }),
        el("td", { text: d.push_type }),
        el("td", { class: "mono small", text: d.push_id }),
        el("td", { text: when(d.registered_at) }),
        el("td", {}, verdictBadge(d.last_verdict), d.last_verdict_at ? el("div", { class: "hint", text: when(d.last_verdict_at) }) : null),
        el("td", { text: d.last_reason || "" }),
        el("td", { class: "mono small", text: Object.entries(cur).map(([s, q]) => s + " " + q).join(", ") || "—" }),
        el("td", {},
          el("button", { type: "button", text: "Test push", onclick: () => {
            document.querySelector("input[name=target][value=push_id]").click();
            $("push-id").value = d.push_id;
            location.hash = "#push";
          } }),
          " ",
          el("button", { type: "button", class: "danger", text: "Unbind", onclick: () => unbind(user, d) })),
      ));
    }
    const box = $("user-streams");
    box.replaceChildren();
    if (streams.error) {
      box.append(el("p", { class: "error", text: "Streams not shown: " + describe(streams.error) }));
    } else {
      for (const s of streams.streams) {
        const table = el("table", {},
          el("thead", {}, el("tr", {}, ["Seq", "From", "Type", "Body", "Push", "Time", "Message id"].map((h) => el("th", { text: h })))),
          el("tbody", {}, s.messages.length ? s.messages.map((m) => el("tr", {},
            el("td", { class: "num", text: m.seq }),
            el("td", { text: m.from }),
            el("td", { text: m.event || m.type }),
            el("td", { text: m.body }),
            el("td", { text: m.has_push_config ? "yes" : "no" }),
            el("td", { text: when(m.timestamp) }),
            el("td", { class: "mono small", text: m.message_id }),
          )) : el("tr", {}, el("td", { colspan: 7, text: "No retained message." }))));
        const acked = Object.entries(cursors).filter(([, c]) => s.stream in c).map(([d, c]) => d + " acked " + c[s.stream]);
        box.append(el("div", { class: "stream" },
          el("h3", {}, el("span", { text: s.stream }), el("span", { class: "hint", text: "seq " + s.first_seq + "–" + s.last_seq + (acked.length ? " · " + acked.join(", ") : " · no device has acked") })),
          el("div", { class: "table-wrap" }, table)));
      }
    }
    $("user-result").hidden = false;
  }

  async function unbind(user, d) {
    if (!confirm("Unbind " + d.device_id + " (" + d.provider + ") from " + user + "? It gets no more pushes until it binds again.")) return;
    try {
      await api("DELETE", "/v1/users/" + encodeURIComponent(user) + "/devices/" + encodeURIComponent(d.push_id));
    } catch (e) {
      setStatus("user-status", "error", "Could not unbind: " + describe(e));
      return;
    }
    lookupUser(user);
  }

  // Test push

  async function preparePush() {
    if (!overview) {
      try { overview = await api("GET", "/v1/overview"); } catch (e) { /* the profiles list stays empty */ }
    }
    const sel = $("push-resources");
    const current = sel.value;
    sel.replaceChildren(el("option", { value: "", text: "(none: the provider's defaults)" }));
    for (const r of (overview && overview.resources) || []) {
      sel.append(el("option", { value: r, text: r }));
    }
    sel.value = current;
  }

  function pushTarget() {
    return document.querySelector("input[name=target]:checked").value;
  }

  async function loadPushDevices() {
    const user = $("push-user").value.trim();
    const sel = $("push-device");
    sel.replaceChildren();
    if (!user) {
      setStatus("push-status", "error", "Enter a user id first.");
      return;
    }
    try {
      const ans = await api("GET", "/v1/users/" + encodeURIComponent(user) + "/devices");
      if (!ans.devices.length) {
        setStatus("push-status", "error", "User " + user + " has no bound device to push to.");
        return;
      }
      for (const d of ans.devices) {
        sel.append(el("option", { value: d.push_id, text: d.device_id + " · " + d.provider + " · " + d.push_type }));
      }
      setStatus("push-status", "", "");
    } catch (e) {
      setStatus("push-status", "error", "Could not load the devices of " + user + ": " + describe(e));
    }
  }

  async function testPush(dryRun) {
    $("push-result").hidden = true;
    const pushID = pushTarget() === "user" ? $("push-device").value : $("push-id").value.trim();
    if (!pushID) {
      setStatus("push-status", "error", pushTarget() === "user" ? "Load the user's devices and pick one." : "Enter a push id.");
      return;
    }
    const type = document.querySelector("input[name=push_type]:checked").value;
    const body = {
      push_id: pushID, push_type: type, dry_run: dryRun,
      title: $("push-title").value, content: $("push-content").value, payload: $("push-payload").value,
    };
    if ($("push-resources").value) body.resources_id = $("push-resources").value;
    if (type === "voip") {
      body.voip = { handle_type: Number($("voip-handle-type").value), handle_value: $("voip-handle-value").value, has_video: $("voip-video").checked };
    }
    setStatus("push-status", "info", dryRun ? "Building the request…" : "Sending…");
    for (const b of [$("push-dry"), $("push-send")]) b.disabled = true;
    let ans;
    try {
      ans = await api("POST", "/v1/push/test", body);
    } catch (e) {
      setStatus("push-status", "error", (dryRun ? "Dry run failed: " : "The push failed: ") + describe(e));
      return;
    } finally {
      for (const b of [$("push-dry"), $("push-send")]) b.disabled = false;
    }
    const ok = dryRun ? !ans.reason : ans.verdict === "delivered";
    setStatus("push-status", ok ? "ok" : "error", dryRun
      ? (ans.reason ? "The request could not be built: " + ans.reason : "Dry run: this is the request pushd would send to " + ans.provider + "; nothing was sent.")
      : (ok ? "Delivered: " + ans.provider + " accepted the push." : "Not delivered: " + ans.provider + " answered " + (ans.verdict || "no verdict") + (ans.reason ? " (" + ans.reason + ")" : "") + "."));
    const v = $("push-verdict");
    v.className = "badge " + (dryRun ? "none" : ans.verdict || "failed");
    v.textContent = dryRun ? "dry run" : ans.verdict || "failed";
    $("push-summary").textContent = ans.provider + " · " + ans.push_type + " · push id " + ans.push_id + (ans.status ? " · HTTP " + ans.status : "");
    const r = ans.request;
    $("push-request").textContent = r
      ? [r.method + " " + r.url, ...Object.entries(r.headers || {}).map(([k, val]) => k + ": " + val), "", pretty(r.body),
         r.status ? "\n→ " + r.status + " " + (r.answer || "") : ""].join("\n")
      : "(no request: " + (ans.reason || "none was made") + ")";
    $("push-result").hidden = false;
  }

  function pretty(s) {
    try { return JSON.stringify(JSON.parse(s), null, 2); } catch (e) { return s || ""; }
  }

  // Message trace

  // What each trace event means, in words a support person reads at a glance.
  const traceWords = {
    frame_sent: "frame sent over the long connection",
    push_job: "push job written",
    acked: "acked: the push was dropped",
    not_acked: "not acked in time: pushing",
    vendor_attempt: "vendor attempt",
    quota_held: "held: the vendor's daily quota is used up",
    expired: "expired before it could be sent",
    skipped: "skipped",
  };
  const skipWords = {
    no_push_config: "the message has no push_config",
    no_binding: "the user has no device bound for pushes",
    senders_device: "the sender's own device",
    unbound: "the binding was removed before the push went",
    provider_not_configured: "the binding's provider is not configured for the app",
  };

  function outcomeClass(o) {
    if (o === "delivered" || o === "acked") return "delivered";
    if (o === "token_invalid" || o === "bad_request" || o === "expired") return o;
    if (o === "retrying" || o === "quota_held" || o === "waiting_for_ack" || o === "push_pending") return "retry";
    return "none";
  }

  function clock(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString() + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function traceLine(ev, t0) {
    const why = ev.event === "skipped" ? (skipWords[ev.reason] || ev.reason) : ev.reason;
    return el("li", { "data-event": ev.event },
      el("span", { class: "hint mono", text: clock(ev.at) + " (+" + (ev.at - t0) + " ms) " }),
      el("strong", { text: traceWords[ev.event] || ev.event }), " ",
      ev.verdict ? verdictBadge(ev.verdict) : null, " ",
      ev.attempt ? el("span", { class: "hint", text: "attempt " + ev.attempt + " " }) : null,
      ev.provider ? el("span", { class: "hint", text: ev.provider + (ev.push_id ? " · " + ev.push_id : "") + " " }) : null,
      ev.event === "push_job" && ev.until ? el("span", { class: "hint", text: "waits for the ack until " + clock(ev.until) + " " }) : null,
      why ? el("span", { class: "reason", text: (ev.event === "skipped" ? "" : "— ") + why }) : null);
  }

  async function trace(id, user) {
    const box = $("trace-result");
    box.replaceChildren();
    setStatus("trace-status", "info", "Tracing " + id + "…");
    let ans;
    try {
      ans = await api("GET", "/v1/messages/" + encodeURIComponent(id) + "/trace" + (user ? "?user=" + encodeURIComponent(user) : ""));
    } catch (e) {
      if (e.status === 404 && e.code === "unknown_message") {
        setStatus("trace-status", "error", "Unknown message " + id + ": pushd has no trace of it in this app. Check the id (the message_id a send answered); traces are kept as long as the message (offline_retention).");
      } else if (e.status === 400) {
        setStatus("trace-status", "error", "Not a message id: " + describe(e));
      } else {
        setStatus("trace-status", "error", "Could not trace " + id + ": " + describe(e));
      }
      return;
    }
    const devices = ans.devices || [];
    let summary = ans.device_count + (ans.device_count === 1 ? " device or user" : " devices or users") + " in the trace";
    if (ans.group) summary = "Group " + ans.group.group_id + " message from " + ans.group.from + " to " + ans.group.receivers + " members; " + summary;
    if (user) summary += "; showing " + user + "'s";
    setStatus("trace-status", ans.complete === false ? "error" : "ok",
      summary + "." + (ans.complete === false ? " Some cluster members did not answer: the trace is incomplete." : ""));
    const counts = Object.entries(ans.counts || {}).sort((a, b) => b[1] - a[1]);
    box.append(el("div", { class: "card", id: "trace-counts" }, el("h3", { text: "Outcomes" }),
      el("p", {}, counts.map(([k, n]) => el("span", { class: "badge " + outcomeClass(k), "data-outcome": k, text: k + ": " + n }), " "))));
    if (ans.devices_omitted) {
      box.append(el("p", { class: "hint", text: ans.devices_omitted + " devices: enter a member above to see one member's devices." }));
    }
    if (user && !devices.length) {
      box.append(el("p", { class: "status error", text: user + " is not among this message's receivers." }));
    }
    for (const d of devices) {
      const evs = d.events || [];
      const t0 = evs.length ? evs[0].at : 0;
      box.append(el("div", { class: "card trace-device", "data-device": d.user_id + "/" + (d.device_id || "") },
        el("h3", {}, d.user_id + (d.device_id ? " · " + d.device_id : " (no device)"), " ",
          el("span", { class: "badge " + outcomeClass(d.outcome), text: d.outcome })),
        el("ol", { class: "timeline" }, evs.map((ev) => traceLine(ev, t0)))));
    }
  }

  // Cluster

  async function loadCluster() {
    const box = $("cluster-result");
    box.replaceChildren();
    setStatus("cluster-status", "info", "Loading…");
    let ans;
    try {
      ans = await api("GET", "/v1/cluster");
    } catch (e) {
      if (e.status === 404) {
        const node = (overview && overview.node) || "this node";
        setStatus("cluster-status", "info", "One node: " + node + ". This pushd reports no cluster status (" + e.message + ").");
      } else {
        setStatus("cluster-status", "error", "Could not load the cluster: " + describe(e));
      }
      return;
    }
    const nodes = ans.nodes || ans.members || [];
    const lone = ans.mode === "lone";
    setStatus("cluster-status", ans.moving ? "info" : "ok",
      (lone ? "One node: " + ans.node + " (a lone node holds every shard)." : nodes.length + " nodes, answered by " + ans.node + ".") +
      (ans.formed === false ? " The cluster has not formed yet." : "") +
      (ans.moving ? " Data is moving between nodes." : " Steady: no data is moving.") +
      (ans.complete === false ? " Not every member answered (" + (ans.missing || []).join(", ") + "): shards only they hold are not listed." : ""));
    box.append(el("h2", { text: "Nodes (" + nodes.length + ")" }),
      el("div", { class: "table-wrap" }, el("table", { id: "cluster-nodes" },
        el("thead", {}, el("tr", {}, ["Name", "API", "Raft", "Replicas", "Leads", "State"].map((h) => el("th", { text: h })))),
        el("tbody", {}, nodes.map((n) => el("tr", { "data-node": n.name },
          el("td", {}, el("strong", { text: n.name })),
          el("td", { class: "mono small", text: n.api || n.address || "" }),
          el("td", { class: "mono small", text: n.raft || "—" }),
          el("td", { class: "num", text: n.replicas !== undefined ? n.replicas : "" }),
          el("td", { class: "num", text: n.leads !== undefined ? n.leads : "" }),
          el("td", { text: n.draining ? "draining" : (n.state || "serving") })))))));
    const shards = ans.shards || [];
    if (shards.length) {
      const leaderless = shards.filter((s) => !s.leader).length;
      const whose = ans.scope === "node" ? "Shards held by " + ans.node : "Shards";
      box.append(el("h2", { text: whose + " (" + shards.length + (leaderless ? ", " + leaderless + " without a leader" : "") + ")" }),
        el("div", { class: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, ["Shard", "Leader", "Replicas", "Moving"].map((h) => el("th", { text: h })))),
          el("tbody", {}, shards.map((s) => el("tr", {},
            el("td", { class: "num", text: s.shard !== undefined ? s.shard : s.id }),
            el("td", { text: s.leader || "none" }),
            el("td", { text: (s.replicas || []).map((r) => typeof r === "object" ? r.node + (r.voting === false ? " (learning)" : "") : r).join(", ") }),
            el("td", { text: s.moving ? "yes" : "" })))))));
    }
  }

  // --- wiring ---

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) return;
      if (await signIn(key)) {
        $("api-key").value = "";
        if (!location.hash || location.hash === "#login") location.hash = "#overview";
        route();
      }
    });
    $("logout").addEventListener("click", () => signOut(""));
    $("overview-refresh").addEventListener("click", loadOverview);
    $("user-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const u = $("user-id").value.trim();
      if (u) lookupUser(u);
    });
    for (const r of document.querySelectorAll("input[name=target]")) {
      r.addEventListener("change", () => {
        $("push-by-id").hidden = pushTarget() !== "push_id";
        $("push-by-user").hidden = pushTarget() !== "user";
      });
    }
    for (const r of document.querySelectorAll("input[name=push_type]")) {
      r.addEventListener("change", () => {
        $("push-voip").hidden = document.querySelector("input[name=push_type]:checked").value !== "voip";
      });
    }
    $("push-load-devices").addEventListener("click", loadPushDevices);
    $("push-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      testPush(!(ev.submitter && ev.submitter.id === "push-send"));
    });
    $("trace-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("trace-id").value.trim();
      if (id) trace(id, $("trace-user").value.trim());
    });
    window.addEventListener("hashchange", route);
    route();
  });
})();
