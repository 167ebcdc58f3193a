// faxd console: local times, live regions over server-sent events, and
// drag and drop onto the file input. Everything works without it, only
// less live.
"use strict";
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute("datetime"); }
    });
  }
  function live(el) {
    var src = el.getAttribute("data-sse");
    if (!src || !window.EventSource) return;
    var es = new EventSource(src);
    es.addEventListener(el.getAttribute("data-event"), function (ev) {
      el.setAttribute("data-events", String(Number(el.getAttribute("data-events") || 0) + 1));
      var t = document.createElement("template");
      t.innerHTML = ev.data;
      localTimes(t.content);
      var next = document.createElement("div");
      next.appendChild(t.content);
      // A stream's first event repeats what the page already shows;
      // replacing it anyway would swap a button being clicked.
      if (next.innerHTML.trim() === el.innerHTML.trim()) return;
      el.replaceChildren.apply(el, Array.prototype.slice.call(next.childNodes));
      el.setAttribute("data-updates", String(Number(el.getAttribute("data-updates") || 0) + 1));
    });
    es.addEventListener("done", function () { es.close(); });
  }
  function drop(zone) {
    var input = zone.querySelector("input[type=file]");
    ["dragenter", "dragover"].forEach(function (n) {
      zone.addEventListener(n, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (n) {
      zone.addEventListener(n, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    document.querySelectorAll("[data-sse]").forEach(live);
    document.querySelectorAll("[data-drop]").forEach(drop);
    document.querySelectorAll("[data-tz-offset]").forEach(function (i) {
      i.value = String(new Date().getTimezoneOffset());
    });
    document.querySelectorAll("[data-idempotency]").forEach(function (i) {
      if (!i.value && window.crypto && crypto.randomUUID) i.value = crypto.randomUUID();
    });
  });
})();
