// External API page: call /api/* on this web app (same origin, session cookie only) and show
// the JSON.  Without JavaScript the buttons post the form and the server renders the result.
// Also: JSON highlighting for every <code data-json>, and the account menu's keyboard support.
"use strict";

// CSRF for /api/*: the app refuses POST, PUT, PATCH and DELETE through its proxy unless the
// browser says the call is same-origin (Origin / Sec-Fetch-Site, which fetch() sends by
// itself) AND the X-CSRF-Token header carries the session's token, which the page puts in
// <meta name="csrf-token">.  A form on another site can send neither, so it cannot make the
// proxy attach your access token to a write.  The app strips the header before the API.
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function apiFetch(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = new Headers(options.headers || {});
  headers.set("Accept", "application/json");
  if (UNSAFE_METHODS.has(method)) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) headers.set("X-CSRF-Token", meta.content);
  }
  return fetch(path, { ...options, method, headers, credentials: "same-origin" });
}

// --- JSON highlighting: tokens become spans (textContent only, never HTML) ----------------
const JSON_TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

function highlightJson(code) {
  const text = code.textContent;
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(JSON_TOKEN)) {
    parts.push(document.createTextNode(text.slice(last, match.index)));
    const span = document.createElement("span");
    if (match[1]) {
      span.className = match[2] ? "json-key" : "json-string";
      span.textContent = match[1];
      parts.push(span);
      if (match[2]) parts.push(document.createTextNode(match[2]));
    } else {
      span.className = match[3] ? "json-literal" : "json-number";
      span.textContent = match[0];
      parts.push(span);
    }
    last = match.index + match[0].length;
  }
  parts.push(document.createTextNode(text.slice(last)));
  code.replaceChildren(...parts);
}

// --- External API page -------------------------------------------------------------------
function element(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function callSummary(method, path, status, elapsedMs) {
  // The same line the server renders for the no-JavaScript path.
  const outcome = status === null ? "no answer" : String(status);
  return element("p", { className: "call-summary" },
    element("code", {}, `${method} ${path}`), " → ",
    element("strong", { className: "call-status" }, outcome),
    ` in ${Math.round(elapsedMs)} ms`);
}

// Which message explains a failed call: the same rules as api_error_code() in app/pages.py.
// A 503 whose error is `temporarily_unavailable` is the API saying it cannot fetch the
// identity provider's keys; any other 503 (the web app's own session store) is unexpected.
function errorCode(form, status, body) {
  if (status === 503 && body && body.error === "temporarily_unavailable") {
    return "issuer_unavailable";
  }
  return JSON.parse(form.dataset.errorsByStatus)[status] || "api_error";
}

function showResult(target, form, call) {
  const heading = element("h2", { textContent: "Result" });
  const summary = callSummary(call.method, call.path, call.status, call.elapsedMs);
  if (call.status === 200) {
    const code = element("code", { textContent: JSON.stringify(call.body, null, 2) });
    code.dataset.json = "";
    highlightJson(code);
    target.replaceChildren(heading, summary, element("pre", {}, code));
    return;
  }
  // No answer at all (status null): the web app itself did not answer.
  const error = errorCode(form, call.status || 0, call.body);
  const alert = element("div", { className: "alert alert-error" },
    element("p", { textContent: JSON.parse(form.dataset.messages)[error] }));
  alert.setAttribute("role", "alert");
  alert.dataset.error = error;
  if (error === "login_required") {
    alert.append(element("a", { href: "/login?returnTo=/external-api", textContent: "Log in again" }));
  }
  target.replaceChildren(heading, summary, alert);
}

async function callApi(form, button, target) {
  // aria-busy, not disabled: a disabled button loses keyboard focus to the page body.
  if (button.getAttribute("aria-busy") === "true") return;
  const call = { method: "GET", path: button.dataset.path, status: null, body: null };
  button.setAttribute("aria-busy", "true");
  target.setAttribute("aria-busy", "true");
  target.replaceChildren(element("p", { className: "loading", textContent: `Calling ${call.method} ${call.path}…` }));
  const started = performance.now();
  try {
    const response = await apiFetch(call.path);
    call.status = response.status;
    try { call.body = await response.json(); } catch (_) { call.body = null; }
  } catch (_) {
    call.status = null;
  } finally {
    call.elapsedMs = performance.now() - started;
    showResult(target, form, call);
    button.removeAttribute("aria-busy");
    target.removeAttribute("aria-busy");
  }
}

function setUpApiForm() {
  const form = document.getElementById("api-form");
  const target = document.getElementById("api-result");
  if (!form || !target) return;
  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (!button || !button.dataset.path) return;
    event.preventDefault();
    callApi(form, button, target);
  });
}

// --- Account menu: Escape, arrow keys, Home/End, outside click ----------------------------
function setUpAccountMenu() {
  const menu = document.querySelector(".user-menu");
  if (!menu) return;
  const summary = menu.querySelector("summary");
  const items = () => Array.from(menu.querySelectorAll('[role="menuitem"]'));
  const focusItem = (index) => {
    const list = items();
    list[(index + list.length) % list.length].focus();
  };
  const close = (returnFocus) => {
    menu.open = false;
    if (returnFocus) summary.focus();
  };
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      close(true);
      return;
    }
    const index = items().indexOf(document.activeElement);
    const moves = index === -1
      ? { ArrowDown: 0, ArrowUp: -1 } // on the button: open, onto the first or last item
      : { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: -1 };
    if (event.key in moves) {
      event.preventDefault();
      menu.open = true;
      focusItem(moves[event.key]);
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) close(false);
  });
  menu.addEventListener("focusout", (event) => {
    if (menu.open && event.relatedTarget && !menu.contains(event.relatedTarget)) close(false);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("code[data-json]").forEach(highlightJson);
  setUpApiForm();
  setUpAccountMenu();
});
