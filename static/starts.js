/*
 * Leadgate: count a "start" of the forms on our own pages, the first time someone focuses
 * one, as the embed does on partner pages. A beacon to an aggregate counter: no cookie, and
 * only what the counter keeps (the channel, landing page and variant from the form's hidden
 * attribution inputs), never anything about the person.
 */
(function () {
  "use strict";
  if (window.leadgateStarts) return; // one script tag per form; one listener per form
  window.leadgateStarts = true;

  function hidden(form, name) {
    var input = form.querySelector("input[type=hidden][name=" + name + "]");
    return input ? input.value : null;
  }

  var forms = document.querySelectorAll("form[data-beacon]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener(
      "focusin",
      function () {
        var context = {};
        ["utm_source", "utm_medium", "page", "variant"].forEach(function (name) {
          context[name] = hidden(form, name);
        });
        var body = JSON.stringify({ kind: "start", context: context });
        navigator.sendBeacon(form.getAttribute("data-beacon"), body);
      },
      { once: true }
    );
  });
})();
