/*
 * Leadgate tracking: page views on the customer's own site, only for a visitor who ticked the
 * tracking consent on one of our forms (docs/tracking.md). Plain ES5, no dependencies, no
 * cookies; its own file beside embed.js, so sites that do not track never load it.
 *
 * - Without a token it does nothing: no request, nothing stored. A token comes only from the
 *   answer to a submission that granted tracking consent (the `token` of the embed's
 *   "leadgate:submit" event) or from a signed `lg_t` parameter on a link in our e-mails; it is kept in
 *   localStorage on the customer's site (first party) and sent with each page view.
 * - A 403 or 410 answer (consent withdrawn, person erased, token refused) forgets the token.
 * - leadgate.track.stop() forgets it and records the withdrawal; leadgate.track.view() counts
 *   a page a single-page app showed without loading.
 */
(function (window, document) {
  "use strict";

  var KEY = "leadgate.track";
  var PARAMETER = "lg_t";
  var script =
    document.currentScript || document.querySelector("script[src*='/track.js']") || {};
  // Where the app lives: the script's own address without "/track.js?v=..".
  var base = String(script.src || "").replace(/\/track\.js([?#].*)?$/, "");
  var stopped = false;

  /** localStorage, or null where the browser refuses it (it throws in some modes). */
  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null;
    }
  }

  function held() {
    var store = storage();
    return store && store.getItem(KEY);
  }

  function keep(token) {
    var store = storage();
    if (store) store.setItem(KEY, token);
  }

  function forget() {
    var store = storage();
    if (store) store.removeItem(KEY);
  }

  function post(path, body) {
    return fetch(base + "/api/v1/activity" + path, {
      method: "POST",
      body: JSON.stringify(body),
      credentials: "omit",
      keepalive: true,
    });
  }

  /** Count the page now shown, if this visitor agreed to it. */
  function view() {
    var token = held();
    if (stopped || !token) return;
    post("", { token: token, url: window.location.href }).then(function (response) {
      if (response.status === 403 || response.status === 410) forget();
    }, function () {});
  }

  /** Stop following this visitor: forget the token, and record the withdrawal. */
  function stop() {
    var token = held();
    stopped = true;
    forget();
    if (token) post("/withdrawal", { token: token }).then(null, function () {});
  }

  /** A link from our e-mails: take its token, then take it out of the address bar. */
  function fromLink() {
    var url = new URL(window.location.href);
    var token = url.searchParams.get(PARAMETER);
    if (!token) return;
    keep(token);
    url.searchParams.delete(PARAMETER);
    window.history.replaceState(window.history.state, "", url.href);
  }

  document.addEventListener("leadgate:submit", function (event) {
    var token = event.token;
    if (token) {
      stopped = false;
      keep(token);
    }
  });

  window.leadgate = window.leadgate || {};
  window.leadgate.track = { stop: stop, view: view };
  fromLink();
  view();
})(window, document);
