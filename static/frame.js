// Framed form pages (?embed=1): tell the parent our height so it can size the iframe.
// Origin-checked: the height goes only to a parent whose origin may frame this form.
(function () {
  "use strict";
  var script = document.currentScript;
  var allowed = JSON.parse((script && script.getAttribute("data-origins")) || "[]");
  allowed.push(location.origin);
  function parentOrigin() {
    if (location.ancestorOrigins && location.ancestorOrigins.length) {
      return location.ancestorOrigins[0];
    }
    try {
      var origin = new URL(document.referrer).origin;
      return origin === location.origin ? null : origin;
    } catch (e) {
      return null;
    }
  }
  // Browsers without ancestorOrigins lose the parent's address after our own form post;
  // then every allowed origin is tried, and postMessage delivers only to the real one.
  var found = parentOrigin();
  var targets = found ? (allowed.indexOf(found) >= 0 ? [found] : []) : allowed;
  var last = 0;
  function send() {
    var height = document.documentElement.scrollHeight;
    if (height === last || window.parent === window) return;
    last = height;
    for (var i = 0; i < targets.length; i++) {
      window.parent.postMessage({ leadgate: "height", height: height }, targets[i]);
    }
  }
  window.addEventListener("load", send);
  if (window.ResizeObserver) new ResizeObserver(send).observe(document.body);
})();
