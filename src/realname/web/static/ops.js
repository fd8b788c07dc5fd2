// SLA timers in the operations console: count down every 30 s without a reload.
(function () {
  "use strict";
  var lang = document.documentElement.lang;
  function text(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    var days = Math.floor(minutes / 1440), hours = Math.floor(minutes / 60) % 24, mins = minutes % 60;
    var zh = lang === "zh-CN", span;
    if (days >= 2) span = zh ? days + " 天 " + hours + " 小时" : days + " d " + hours + " h";
    else if (days * 24 + hours) span = zh ? (days * 24 + hours) + " 小时 " + mins + " 分" : (days * 24 + hours) + " h " + mins + " min";
    else span = zh ? mins + " 分钟" : mins + " min";
    if (seconds >= 0) return zh ? "剩余 " + span : span + " left";
    return zh ? "已超时 " + span : "overdue by " + span;
  }
  var started = Date.now();
  var timers = Array.prototype.slice.call(document.querySelectorAll(".sla[data-seconds]"))
    .filter(function (node) { return node.dataset.seconds !== ""; });
  function tick() {
    var elapsed = Math.floor((Date.now() - started) / 1000);
    timers.forEach(function (node) {
      var left = parseInt(node.dataset.seconds, 10) - elapsed;
      node.textContent = text(left);
      node.classList.toggle("overdue", left < 0);
      node.classList.toggle("soon", left >= 0 && left < 3600);
    });
  }
  if (timers.length) setInterval(tick, 30000);
})();
