/*
 * Leadgate: the marketer's Google Tag Manager container on hosted and landing pages
 * (LEADGATE_TAG_MANAGER_ID), and on a thank-you page the conversion: a `leadgate_submit`
 * push to window.dataLayer and a `leadgate:submit` DOM event, with the form, classification,
 * language and variant only, never anything about the person.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var layer = (window.dataLayer = window.dataLayer || []);
  layer.push({ "gtm.start": Date.now(), event: "gtm.js" });
  var event = script.getAttribute("data-event");
  if (event) {
    event = JSON.parse(event);
    document.dispatchEvent(new CustomEvent("leadgate:submit", { detail: event }));
    layer.push(event);
  }
  var gtm = document.createElement("script");
  gtm.async = true;
  gtm.src =
    "https://www.googletagmanager.com/gtm.js?id=" +
    encodeURIComponent(script.getAttribute("data-container"));
  gtm.nonce = script.nonce;
  document.head.appendChild(gtm);
})();
