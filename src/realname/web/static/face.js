/* The face check (web/face.py): open the front camera, prompt each challenged action,
 * film a few frames per action, upload them, show the result. No external assets.
 * Frames live only in this function's memory until they are uploaded. */
(function () {
  "use strict";
  var root = document.getElementById("face-capture");
  if (!root) { return; }
  var words = JSON.parse(root.getAttribute("data-words"));
  var main = document.querySelector("main");
  var csrf = main.getAttribute("data-csrf");
  var lang = main.getAttribute("data-lang");
  var video = document.getElementById("face-video");
  var prompt = document.getElementById("face-prompt");
  var stepLine = document.getElementById("face-step");
  var startButton = document.getElementById("face-start");
  var retryButton = document.getElementById("face-retry");
  var result = document.getElementById("face-result");
  var errorLine = document.getElementById("face-error");
  /* Within each prompt's step, frames are taken at these fractions of the step. */
  var SHOTS = [0.25, 0.45, 0.65];
  var MAX_SIDE = 640;

  function at(t0, ms) {
    var wait = t0 + ms - performance.now();
    return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, wait)); });
  }

  function grab() {
    var width = video.videoWidth, height = video.videoHeight;
    var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    /* Drawn unmirrored: the engine expects the camera's own view. */
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.9).split(",")[1];
  }

  function post(url, body) {
    return fetch(url + "?lang=" + encodeURIComponent(lang), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function showError(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    startButton.disabled = false;
    prompt.textContent = words.hold;
    stepLine.textContent = "";
  }

  function stopCamera() {
    var stream = video.srcObject;
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    video.srcObject = null;
  }

  function showResult(data) {
    var passed = data.state === "passed";
    result.hidden = false;
    result.classList.toggle("ok", passed);
    document.getElementById("face-verdict").textContent = passed ? words.passed : words.failed;
    document.getElementById("face-level").textContent =
      passed ? words.passed_lead.replace("{level}", data.level) : "";
    var box = document.getElementById("face-causes");
    box.textContent = "";
    (data.causes || []).forEach(function (cause) {
      var article = document.createElement("article");
      article.className = "cause blocking";
      article.id = "face-cause-" + cause.code;
      var title = document.createElement("h3");
      title.textContent = cause.title;
      var text = document.createElement("p");
      text.textContent = cause.message;
      var link = document.createElement("a");
      link.href = cause.help;
      link.textContent = words.help + " · " + cause.code;
      var line = document.createElement("p");
      line.appendChild(link);
      article.appendChild(title);
      article.appendChild(text);
      article.appendChild(line);
      box.appendChild(article);
    });
    retryButton.hidden = passed;
    root.hidden = true;
  }

  async function run() {
    startButton.disabled = true;
    errorLine.hidden = true;
    result.hidden = true;
    var started = await post("/face/sessions", {});
    if (!started.ok) { showError(started.data.message || words.error); return; }
    var challenge = started.data;
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false
      });
      await video.play();
    } catch (problem) {
      showError(words.no_camera);
      return;
    }
    var step = challenge.step_ms;
    var total = challenge.actions.length;
    var frames = [];
    var t0 = performance.now();
    prompt.textContent = words.hold;
    await at(t0, step * 0.5);
    frames.push(grab());
    for (var i = 0; i < total; i += 1) {
      await at(t0, step * (i + 1));
      prompt.textContent = words[challenge.actions[i]];
      stepLine.textContent = words.step.replace("{n}", i + 1).replace("{total}", total);
      for (var s = 0; s < SHOTS.length; s += 1) {
        await at(t0, step * (i + 1 + SHOTS[s]));
        frames.push(grab());
      }
    }
    stopCamera();
    prompt.textContent = words.uploading;
    stepLine.textContent = "";
    var payload = {
      nonce: challenge.nonce,
      frames: frames.map(function (data) { return { media_type: "image/jpeg", content_base64: data }; })
    };
    frames = null;
    var done = await post("/face/sessions/" + challenge.session_id + "/frames", payload);
    payload = null;
    if (!done.ok) { showError(done.data.message || words.error); return; }
    showResult(done.data);
  }

  startButton.addEventListener("click", function () {
    run().catch(function () { stopCamera(); showError(words.error); });
  });
  retryButton.addEventListener("click", function () {
    root.hidden = false;
    result.hidden = true;
    startButton.disabled = false;
    prompt.textContent = words.hold;
  });
}());
