// Borrower pages: inline validation of identity elements, the face photo, and no
// double submits. Everything here is a convenience: the server checks again.
(function () {
  "use strict";
  var main = document.querySelector("main");
  if (!main) { return; }
  var lang = main.getAttribute("data-lang") || "zh-CN";
  var csrf = main.getAttribute("data-csrf") || "";
  var messagesNode = document.getElementById("field-messages");
  var messages = messagesNode ? JSON.parse(messagesNode.textContent) : {};

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      // A second click while the first submit is on its way does nothing.
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });

  // GB 11643-1999: which part of a resident ID number is wrong, before any request.
  // Returns the detail the server uses (length, format, birth_date, checksum) or null.
  function idNumberProblem(value) {
    var v = value.replace(/\s/g, "").toUpperCase();
    if (v.length !== 18 && v.length !== 15) { return "length"; }
    if (v.length === 15) { return /^\d{15}$/.test(v) ? null : "format"; }
    if (!/^\d{17}[\dX]$/.test(v)) { return "format"; }
    var year = +v.slice(6, 10), month = +v.slice(10, 12), day = +v.slice(12, 14);
    var born = new Date(Date.UTC(year, month - 1, day));
    if (born.getUTCFullYear() !== year || born.getUTCMonth() !== month - 1 ||
        born.getUTCDate() !== day || born > new Date()) { return "birth_date"; }
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += (+v[i]) * (Math.pow(2, 17 - i) % 11); }
    return "10X98765432".charAt(sum % 11) === v[17] ? null : "checksum";
  }

  function show(input, error, message) {
    if (!error) { return; }
    if (message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
    } else {
      error.hidden = true;
      error.textContent = "";
      input.removeAttribute("aria-invalid");
    }
  }

  // Once a field is edited, the error shown about its previous value no longer applies.
  document.querySelectorAll("input[aria-describedby]").forEach(function (input) {
    input.addEventListener("input", function () {
      var error = document.getElementById(input.getAttribute("aria-describedby"));
      if (error && error.classList.contains("field-error")) { show(input, error, null); }
    });
  });

  document.querySelectorAll("input[data-validate]").forEach(function (input) {
    input.addEventListener("blur", function () {
      var field = input.getAttribute("data-validate");
      var error = document.getElementById(input.getAttribute("data-error") || field + "-error");
      if (!input.value.trim()) { return; }
      if (field === "id_number") {
        var part = idNumberProblem(input.value);
        if (part) {
          show(input, error, messages["id_number." + part] || messages.id_number);
          return;
        }
      }
      // The rest (region codes, name script, phone ranges, card issuers) is the server's.
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
        if (!reports || !reports[field]) { return; }
        var report = reports[field];
        show(input, error, report.valid ? null : report.message);
      }).catch(function () { /* the server validates again on submit */ });
    });
  });

  // The face photo travels as base64 in an ordinary form field.
  document.querySelectorAll("input[data-face]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-face"));
    var type = document.getElementById(input.getAttribute("data-face") + "_type");
    var chosen = document.getElementById("face-chosen");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || !target || !type) { return; }
      var reader = new FileReader();
      reader.onload = function () {
        var url = String(reader.result);
        target.value = url.slice(url.indexOf(",") + 1);
        type.value = file.type;
        if (chosen) { chosen.hidden = false; }
      };
      reader.readAsDataURL(file);
    });
  });
})();
