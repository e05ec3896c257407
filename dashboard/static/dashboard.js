// Dashboard behaviour, hand-written, no libraries. Served as a file so the page's CSP can forbid inline script.
"use strict";
(function () {
  var params = new URLSearchParams(window.location.search);
  var code = params.get("code"); // the function key the page was opened with, carried to the app's own links only

  function withCode(url) {
    if (!code) return url;
    var target = new URL(url, window.location.href);
    if (target.origin !== window.location.origin) return url;
    target.searchParams.set("code", code);
    return target.pathname + target.search + target.hash;
  }

  function carryKey() {
    if (!code) return;
    document.querySelectorAll("a[href^='/api/']").forEach(function (a) {
      a.setAttribute("href", withCode(a.getAttribute("href")));
    });
    document.querySelectorAll("form.filters").forEach(function (form) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "code"; input.value = code;
      form.appendChild(input);
    });
  }

  function csrfToken() {
    var meta = document.querySelector("meta[name='csrf-token']");
    return meta ? meta.getAttribute("content") : "";
  }

  function wireActions() {
    var actor = document.getElementById("actor");
    if (actor) {
      actor.value = window.localStorage.getItem("dash-actor") || "";
      actor.addEventListener("change", function () { window.localStorage.setItem("dash-actor", actor.value); });
    }
    var result = document.querySelector(".action-result");
    document.querySelectorAll("form.action").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var by = actor ? actor.value.trim() : "";
        var reasonInput = form.querySelector("input[name='reason']");
        if (!by) { if (result) result.textContent = "Enter your name first."; if (actor) actor.focus(); return; }
        var body = { by: by, reason: reasonInput ? reasonInput.value : "" };
        fetch(withCode(form.getAttribute("action")), {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
          body: JSON.stringify(body)
        }).then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            if (response.ok) { window.location.reload(); return; }
            if (result) result.textContent = (data.error || response.status) + ": " + (data.detail || "");
          });
        }).catch(function (err) { if (result) result.textContent = "request failed: " + err; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { carryKey(); wireActions(); });
})();
