// The connectors page: sign-in, the organization's connectors with their health, and the
// add/edit form, on the admin API (/api/v1).
//
// Safety rules of this file:
// - The admin token lives in `state.token` only (never in storage or a cookie), so a
//   reload signs out and no other page can make the browser send it (no CSRF surface).
// - Text from the API (names, errors, settings) enters the page through `textContent`,
//   `value` or attribute setters, never as HTML.
"use strict";

(() => {
  const REFRESH_MS = 5000;
  // Keys of an answered connector that are not part of its body.
  const ANSWER_ONLY_KEYS = new Set(["status", "secret_fields", "created_at", "updated_at"]);
  const HEALTH_WORDS = {
    flowing: "Events flowing",
    failing: "Failing",
    circuit_open: "Circuit open: paused after failures",
    idle: "Idle: nothing sent yet",
    not_running: "Not running",
  };

  const state = {
    org: null,
    token: null,
    signedIn: false,
    catalog: null,
    // The connector being edited as the API answered it; null while adding one.
    editing: null,
    // Rows by connector name, updated in place so a refresh keeps keyboard focus.
    rows: new Map(),
    pendingDelete: null,
    timer: null,
    refreshing: false,
  };

  const $ = (id) => document.getElementById(id);

  // An element with properties (`text` is its textContent) and children.
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("aria-") || key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // ---- The API --------------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, body: { error: "the service did not answer (" + e.message + ")" } };
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { error: text };
      }
    }
    if (response.status === 401 && state.signedIn) {
      signOut("The service no longer accepts this token: sign in again.");
    }
    return { status: response.status, body: data || {} };
  }

  function connectorsPath(suffix = "") {
    return "/api/v1/orgs/" + encodeURIComponent(state.org) + "/connectors" + suffix;
  }

  function connectorPath(name, suffix = "") {
    return connectorsPath("/" + encodeURIComponent(name) + suffix);
  }

  function errorText(answer) {
    return answer.body.error || "the service answered HTTP " + answer.status;
  }

  // ---- Sign-in ----------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const org = $("sign-in-org").value.trim();
    const token = $("sign-in-token").value.trim();
    const error = $("sign-in-error");
    if (!org || !token) {
      error.textContent = "Enter the organization id and an admin token of it.";
      return;
    }
    error.textContent = "";
    state.org = org;
    state.token = token;
    const answer = await api("GET", connectorsPath());
    if (answer.status !== 200) {
      state.org = null;
      state.token = null;
      error.textContent = signInError(answer);
      $("sign-in-token").focus();
      return;
    }
    $("sign-in-token").value = "";
    state.signedIn = true;
    $("who-org").textContent = org;
    show($("who"), true);
    show($("sign-in"), false);
    show($("connectors"), true);
    renderList(answer.body.connectors || []);
    $("list-status").textContent = "";
    state.timer = setInterval(refresh, REFRESH_MS);
    $("add").focus();
  }

  function signInError(answer) {
    switch (answer.status) {
      case 401:
        return "This token is not known to the service.";
      case 404:
        return "This token is not an admin token of that organization (or it does not exist): check the organization id.";
      case 429:
        return "Too many failed sign-ins from this address: wait a minute, then retry.";
      default:
        return errorText(answer);
    }
  }

  function signOut(message) {
    clearInterval(state.timer);
    state.timer = null;
    state.signedIn = false;
    state.org = null;
    state.token = null;
    state.pendingDelete = null;
    state.rows.clear();
    resetEditor();
    $("list-body").replaceChildren();
    $("row-verdict").textContent = "";
    $("confirm-delete-text").textContent = "";
    $("who-org").textContent = "";
    show($("who"), false);
    show($("connectors"), false);
    show($("confirm-delete"), false);
    show($("sign-in"), true);
    $("sign-in-error").textContent = message || "";
    $("sign-in-org").focus();
  }

  // ---- The list ---------------------------------------------------------------------

  async function refresh() {
    if (!state.signedIn || state.refreshing || document.hidden) return;
    state.refreshing = true;
    try {
      const answer = await api("GET", connectorsPath());
      if (!state.signedIn) return;
      if (answer.status === 200) {
        renderList(answer.body.connectors || []);
        $("list-status").textContent = "";
      } else {
        $("list-status").textContent = "Could not refresh the list: " + errorText(answer);
      }
    } finally {
      state.refreshing = false;
    }
  }

  function platformName(id) {
    const platform = state.catalog.platforms.find((p) => p.id === id);
    return platform ? platform.name : id;
  }

  // "12 s ago", from an RFC 3339 time.
  function ago(iso) {
    const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!Number.isFinite(seconds)) return iso;
    if (seconds < 5) return "just now";
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return new Date(iso).toLocaleString();
  }

  function timeNode(iso) {
    return el("time", { dateTime: iso, title: new Date(iso).toLocaleString(), text: ago(iso) });
  }

  function newRow(name) {
    const cells = { name: el("th", { scope: "row", "data-cell": "name" }) };
    for (const key of ["platform", "events", "health", "success", "error", "delivered", "failed"]) {
      cells[key] = el("td", { "data-cell": key });
    }
    cells.delivered.className = "num";
    cells.failed.className = "num";
    const edit = el("button", { type: "button", text: "Edit", "aria-label": "Edit " + name });
    const test = el("button", { type: "button", text: "Test", "aria-label": "Send a test event with " + name });
    const remove = el("button", { type: "button", text: "Delete", class: "danger-text", "aria-label": "Delete " + name });
    edit.addEventListener("click", () => startEdit(name));
    test.addEventListener("click", () => testSaved(name));
    remove.addEventListener("click", () => askDelete(name, remove));
    const actions = el("td", { class: "row-actions" }, [edit, test, remove]);
    const tr = el("tr", {}, [
      cells.name, cells.platform, cells.events, cells.health, cells.success, cells.error,
      cells.delivered, cells.failed, actions,
    ]);
    return { tr, cells };
  }

  function renderList(connectors) {
    const body = $("list-body");
    show($("list"), connectors.length > 0);
    show($("list-empty"), connectors.length === 0);
    const names = new Set(connectors.map((c) => c.name));
    for (const [name, row] of state.rows) {
      if (!names.has(name)) {
        row.tr.remove();
        state.rows.delete(name);
      }
    }
    connectors.forEach((c, index) => {
      let row = state.rows.get(c.name);
      if (!row) {
        row = newRow(c.name);
        state.rows.set(c.name, row);
      }
      // Only moved when out of place: moving a row would take the focus off its buttons.
      if (body.children[index] !== row.tr) body.insertBefore(row.tr, body.children[index] || null);
      fillRow(row, c);
    });
  }

  function fillRow(row, c) {
    const status = c.status || {};
    const events = Array.isArray(c.events) ? c.events : [];
    row.tr.dataset.name = c.name;
    row.cells.name.textContent = c.name;
    row.cells.platform.textContent = platformName(c.platform);
    row.cells.events.textContent =
      events.length === 1 && events[0] === "*" ? "all (*)" : events.join(", ");
    const health = status.health || "not_running";
    row.cells.health.replaceChildren(
      el("span", { class: "health health-" + health, text: HEALTH_WORDS[health] || health }),
    );
    row.cells.success.replaceChildren(status.last_success_at ? timeNode(status.last_success_at) : "never");
    if (status.last_error) {
      const parts = [];
      if (status.last_error_at) parts.push(timeNode(status.last_error_at), ": ");
      parts.push(status.last_error);
      row.cells.error.replaceChildren(...parts);
    } else {
      row.cells.error.replaceChildren(el("span", { class: "muted", text: "none" }));
    }
    row.cells.delivered.textContent = String(status.delivered ?? 0);
    row.cells.failed.textContent = String(status.failed ?? 0);
  }

  async function testSaved(name) {
    const out = $("row-verdict");
    out.className = "";
    out.textContent = "Sending a test event with " + name + "…";
    const answer = await api("POST", connectorPath(name, "/test"));
    if (answer.status === 200) {
      showVerdict(out, answer.body, name + ": ");
    } else {
      out.className = "verdict bad";
      out.textContent = name + ": " + errorText(answer);
    }
  }

  // ---- Delete, with a confirmation in the page --------------------------------------

  function askDelete(name, button) {
    state.pendingDelete = { name, button };
    $("confirm-delete-text").textContent =
      "Delete the connector “" + name + "”? Events stop going to it; this cannot be undone.";
    show($("confirm-delete"), true);
    $("confirm-delete-no").focus();
  }

  function cancelDelete() {
    const pending = state.pendingDelete;
    state.pendingDelete = null;
    show($("confirm-delete"), false);
    if (pending && pending.button.isConnected) pending.button.focus();
  }

  async function confirmDelete() {
    const pending = state.pendingDelete;
    if (!pending) return;
    const answer = await api("DELETE", connectorPath(pending.name));
    state.pendingDelete = null;
    show($("confirm-delete"), false);
    const out = $("row-verdict");
    out.className = "";
    if (answer.status === 204 || answer.status === 404) {
      out.textContent = "Deleted the connector " + pending.name + ".";
      await refresh();
      $("add").focus();
    } else {
      out.className = "verdict bad";
      out.textContent = "Could not delete " + pending.name + ": " + errorText(answer);
    }
  }

  // ---- The form ---------------------------------------------------------------------

  async function startEdit(name) {
    const answer = await api("GET", connectorPath(name));
    if (answer.status !== 200) {
      $("row-verdict").textContent = "Could not open " + name + ": " + errorText(answer);
      return;
    }
    openEditor(answer.body);
  }

  function openEditor(stored) {
    state.editing = stored;
    cancelDelete();
    $("editor-title").textContent = stored ? "Edit the connector " + stored.name : "Add a connector";
    const name = $("f-name");
    name.value = stored ? stored.name : "";
    name.readOnly = Boolean(stored);
    const platform = $("f-platform");
    platform.value = stored ? stored.platform : state.catalog.platforms[0].id;
    // The stored keys of one platform would be refused by another: a new connector
    // is the way to change platform.
    platform.disabled = Boolean(stored);
    buildPlatformFields(platform.value, stored);
    fillEvents(stored ? stored.events : ["*"]);
    clearMessages();
    show($("connectors"), false);
    show($("editor"), true);
    (stored ? $("platform-fields").querySelector("input, select, textarea") : name).focus();
  }

  // Empties the form, so nothing of a connector stays in the page once it is closed
  // (the next person at this tab may sign in to another organization).
  function resetEditor() {
    state.editing = null;
    $("editor-title").textContent = "";
    $("f-name").value = "";
    $("platform-fields").replaceChildren();
    $("f-events-other").value = "";
    clearMessages();
    show($("editor"), false);
  }

  function closeEditor() {
    resetEditor();
    show($("connectors"), true);
    refresh();
    $("add").focus();
  }

  function buildPlatformFields(platformId, stored) {
    const platform = state.catalog.platforms.find((p) => p.id === platformId);
    const savedSecrets = stored ? stored.secret_fields || [] : [];
    const nodes = platform.fields.map((field) => {
      const id = "f-" + field.key;
      const label = el("label", { htmlFor: id, text: field.label });
      if (field.required) label.append(el("span", { class: "required", text: " (required)" }));
      const described = [];
      let input;
      if (field.kind === "select") {
        input = el("select", { id, name: field.key });
        const current = stored && typeof stored[field.key] === "string" ? stored[field.key] : field.example;
        const options = field.options.includes(current) ? field.options : [current, ...field.options];
        for (const option of options) input.append(el("option", { value: option, text: option }));
        input.value = current;
      } else if (field.kind === "pem") {
        input = el("textarea", { id, name: field.key, rows: 4, spellcheck: false });
        input.placeholder = "-----BEGIN CERTIFICATE-----";
      } else {
        input = el("input", { id, name: field.key, autocomplete: "off", spellcheck: false });
        input.type = field.kind === "secret" ? "password" : field.kind === "url" ? "url" : "text";
        if (field.kind === "secret") {
          input.autocomplete = "new-password";
          input.placeholder = savedSecrets.includes(field.key)
            ? "saved; leave blank to keep it"
            : field.required ? "required; never shown again once saved" : "";
        } else if (field.example) {
          input.placeholder = "e.g. " + field.example;
        }
      }
      if (field.required) input.setAttribute("aria-required", "true");
      if (stored && field.kind !== "secret" && field.kind !== "select" && stored[field.key] != null) {
        const value = stored[field.key];
        input.value = Array.isArray(value) ? value.join(", ") : String(value);
      }
      const children = [label, input];
      if (field.help) {
        children.push(el("p", { class: "help", id: "help-" + field.key, text: field.help }));
        described.push("help-" + field.key);
      }
      children.push(el("p", { class: "error", id: "err-" + field.key }));
      described.push("err-" + field.key);
      input.setAttribute("aria-describedby", described.join(" "));
      return el("div", { class: "field", id: "field-" + field.key }, children);
    });
    $("platform-fields").replaceChildren(...nodes);
  }

  function fillEvents(events) {
    const list = Array.isArray(events) ? events : [];
    const all = list.includes("*");
    $("ev-all").checked = all;
    for (const box of document.querySelectorAll("#event-types input")) {
      box.checked = !all && list.includes(box.value);
      box.disabled = all;
    }
    $("f-events-other").value = list
      .filter((t) => t !== "*" && !state.catalog.event_types.includes(t))
      .join(", ");
    $("f-events-other").disabled = all;
  }

  function onAllEvents() {
    const all = $("ev-all").checked;
    for (const box of document.querySelectorAll("#event-types input")) {
      box.disabled = all;
      if (all) box.checked = false;
    }
    $("f-events-other").disabled = all;
  }

  function chosenEvents() {
    if ($("ev-all").checked) return ["*"];
    const chosen = [...document.querySelectorAll("#event-types input:checked")].map((b) => b.value);
    for (const other of $("f-events-other").value.split(",")) {
      if (other.trim()) chosen.push(other.trim());
    }
    return chosen;
  }

  // The body of the connector as the form describes it.
  function formBody() {
    const platform = state.catalog.platforms.find((p) => p.id === $("f-platform").value);
    const body = {};
    // Keys set through the API that the form does not show (timeouts, batching…) are
    // sent back as they are, so saving from the page does not reset them.
    if (state.editing) {
      for (const [key, value] of Object.entries(state.editing)) {
        if (!ANSWER_ONLY_KEYS.has(key)) body[key] = value;
      }
    }
    body.name = $("f-name").value.trim();
    body.platform = platform.id;
    for (const field of platform.fields) {
      delete body[field.key];
      const value = $("f-" + field.key).value.trim();
      // Blank: the platform's default; for a secret, the saved value.
      if (!value) continue;
      body[field.key] =
        field.kind === "list" ? value.split(",").map((s) => s.trim()).filter(Boolean) : value;
    }
    body.events = chosenEvents();
    return body;
  }

  function clearMessages() {
    for (const node of document.querySelectorAll("#connector-form .error")) node.textContent = "";
    for (const node of document.querySelectorAll("#connector-form [aria-invalid]")) {
      node.removeAttribute("aria-invalid");
    }
    const verdict = $("verdict");
    verdict.textContent = "";
    verdict.className = "";
  }

  // The server's validation messages, each next to its field when the form has it.
  function showErrors(answer) {
    const errors = Array.isArray(answer.body.errors) ? answer.body.errors : [];
    const general = [];
    let first = null;
    for (const error of errors) {
      // `dce` is Sentinel's other name for `endpoint`.
      const field = error.field === "dce" ? "endpoint" : error.field;
      const target = field ? $("err-" + field) : null;
      if (!target || !$("connector-form").contains(target)) {
        general.push((field ? field + ": " : "") + error.message);
        continue;
      }
      target.textContent = target.textContent ? target.textContent + " " + error.message : error.message;
      const input = field === "events" ? $("ev-all") : $("f-" + field);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        first = first || input;
      }
    }
    if (errors.length === 0) general.push(errorText(answer));
    $("form-error").textContent = general.join(" ");
    if (first) first.focus();
  }

  function showVerdict(node, verdict, prefix = "") {
    const ms = typeof verdict.latency_ms === "number" ? " (" + verdict.latency_ms + " ms)" : "";
    node.className = "verdict " + (verdict.delivered ? "ok" : "bad");
    node.replaceChildren(
      el("strong", { text: prefix + (verdict.delivered ? "Delivered. " : "Not delivered. ") }),
      String(verdict.message || "") + ms,
    );
    node.scrollIntoView({ block: "nearest" });
  }

  async function busy(work) {
    const buttons = document.querySelectorAll("#connector-form .actions button");
    for (const b of buttons) b.disabled = true;
    $("connector-form").setAttribute("aria-busy", "true");
    try {
      await work();
    } finally {
      for (const b of buttons) b.disabled = false;
      $("connector-form").removeAttribute("aria-busy");
    }
  }

  function sendTest() {
    return busy(async () => {
      clearMessages();
      $("verdict").textContent = "Sending a test event…";
      const answer = await api("POST", connectorsPath("/test"), formBody());
      $("verdict").textContent = "";
      if (answer.status === 200) showVerdict($("verdict"), answer.body);
      else showErrors(answer);
    });
  }

  function save(event) {
    event.preventDefault();
    return busy(async () => {
      clearMessages();
      const body = formBody();
      const answer = state.editing
        ? await api("PUT", connectorPath(state.editing.name), body)
        : await api("POST", connectorsPath(), body);
      if (answer.status === 200 || answer.status === 201) {
        $("row-verdict").className = "";
        $("row-verdict").textContent = "Saved the connector " + body.name + ".";
        closeEditor();
      } else if (answer.status === 409) {
        $("err-name").textContent = errorText(answer);
        $("f-name").setAttribute("aria-invalid", "true");
        $("f-name").focus();
      } else {
        showErrors(answer);
      }
    });
  }

  // ---- Start ------------------------------------------------------------------------

  function buildStaticChoices() {
    const select = $("f-platform");
    for (const p of state.catalog.platforms) select.append(el("option", { value: p.id, text: p.label }));
    const boxes = state.catalog.event_types.map((type) =>
      el("label", { class: "check" }, [el("input", { type: "checkbox", value: type }), " " + type]),
    );
    $("event-types").replaceChildren(...boxes);
  }

  async function start() {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("add").addEventListener("click", () => openEditor(null));
    $("f-platform").addEventListener("change", () => buildPlatformFields($("f-platform").value, null));
    $("ev-all").addEventListener("change", onAllEvents);
    $("send-test").addEventListener("click", sendTest);
    $("connector-form").addEventListener("submit", save);
    $("cancel").addEventListener("click", closeEditor);
    $("confirm-delete-yes").addEventListener("click", confirmDelete);
    $("confirm-delete-no").addEventListener("click", cancelDelete);
    document.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (!$("confirm-delete").hidden) cancelDelete();
      else if (!$("editor").hidden) closeEditor();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
    });
    try {
      const response = await fetch("/assets/catalog.json", { cache: "no-cache" });
      state.catalog = await response.json();
    } catch (e) {
      $("sign-in-error").textContent = "The page could not load its form description: " + e.message;
      return;
    }
    buildStaticChoices();
    document.body.dataset.ready = "true";
    $("sign-in-org").focus();
  }

  start();
})();
