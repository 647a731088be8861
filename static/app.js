// External API page: call /api/* on this web app (same origin, session cookie only) and show
// the JSON.  Without JavaScript the buttons post the form and the server renders the result.
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

// Which message explains a failed call: the same rules as api_error_code() in app/pages.py.
// A 503 whose error is `temporarily_unavailable` is the API saying it cannot fetch the
// identity provider's keys; any other 503 (the web app's own session store) is unexpected.
function errorCode(form, status, body) {
  if (status === 503 && body && body.error === "temporarily_unavailable") {
    return "issuer_unavailable";
  }
  return JSON.parse(form.dataset.errorsByStatus)[status] || "api_error";
}

function showResult(target, form, status, body) {
  target.replaceChildren();
  if (status === 200) {
    const heading = document.createElement("h2");
    heading.textContent = "Result";
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.textContent = JSON.stringify(body, null, 2);
    pre.append(code);
    target.append(heading, pre);
    return;
  }
  const alert = document.createElement("div");
  alert.className = "alert alert-error";
  alert.setAttribute("role", "alert");
  const text = document.createElement("p");
  const code = errorCode(form, status, body);
  alert.dataset.error = code;
  text.textContent = JSON.parse(form.dataset.messages)[code];
  alert.append(text);
  if (code === "login_required") {
    const link = document.createElement("a");
    link.href = "/login?returnTo=/external-api";
    link.textContent = "Log in again";
    alert.append(link);
  }
  target.append(alert);
}

async function callApi(form, button, target) {
  button.disabled = true;
  try {
    const response = await apiFetch(button.dataset.path);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    showResult(target, form, response.status, body);
  } catch (_) {
    showResult(target, form, 0, null); // the web app itself did not answer
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("api-form");
  const target = document.getElementById("api-result");
  if (form && target) {
    form.addEventListener("submit", (event) => {
      const button = event.submitter;
      if (!button || !button.dataset.path) return;
      event.preventDefault();
      callApi(form, button, target);
    });
  }
  // Close the account menu with Escape, returning focus to its button.
  const menu = document.querySelector(".user-menu");
  if (menu) {
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  }
});
