// Borrower pages: inline validation of identity elements, and no double submits.
(function () {
  "use strict";
  var main = document.querySelector("main");
  if (!main) { return; }
  var lang = main.getAttribute("data-lang") || "zh-CN";
  var csrf = main.getAttribute("data-csrf") || "";

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      // A second click while the first submit is on its way does nothing.
      if (form.dataset.sent) { return; }
      form.dataset.sent = "1";
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  document.querySelectorAll("input[data-validate]").forEach(function (input) {
    input.addEventListener("blur", function () {
      var field = input.getAttribute("data-validate");
      var error = document.getElementById(field + "-error");
      if (!input.value.trim()) { return; }
      var body = {};
      body[field] = input.value;
      fetch("/identity/validate?lang=" + encodeURIComponent(lang), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (reports) {
        if (!reports || !reports[field] || !error) { return; }
        var report = reports[field];
        if (report.valid) {
          error.hidden = true;
          error.textContent = "";
          input.removeAttribute("aria-invalid");
        } else {
          error.textContent = report.message;
          error.hidden = false;
          input.setAttribute("aria-invalid", "true");
        }
      }).catch(function () { /* the server validates again on submit */ });
    });
  });
})();
