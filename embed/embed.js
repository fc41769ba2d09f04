/*
 * Leadgate embed: turns every <div data-leadgate-form="slug" data-lang="da"> on a page into a
 * working, accessible form. Plain ES5 (the build minifies it with an ES5 parser), no
 * dependencies, no eval, no cookies, one global: window.LeadGate.
 *
 * - One request for each form's definition (GET /api/v1/forms/<slug>?lang=..), shared by
 *   every element showing that form, cached by the browser and revalidated by ETag.
 * - Submissions are sent with fetch as text/plain JSON, a CORS "simple request": no preflight
 *   round trip, and a site that is not allowed gets a readable 403 instead of a silent block.
 * - Every attempt of one submission carries the same idempotency key, and network errors,
 *   429 and 503 are retried with backoff, so a flaky network gives exactly one lead.
 * - The host element keeps the height it had (reserve it with min-height in the page) and
 *   never shrinks while the form changes, so the page around it does not move.
 */
(function (window, document) {
  "use strict";

  if (window.LeadGate) {
    window.LeadGate.scan();
    return;
  }

  var script =
    document.currentScript || document.querySelector("script[src*='/embed.js']") || {};
  // Where the app lives: the script's own address without "/embed.js?v=..".
  var base = String(script.src || "").replace(/\/embed\.js([?#].*)?$/, "");
  var MAX_ATTEMPTS = 8;
  var definitions = {};
  var forms = 0;
  var captchaScript;

  // Layout only: fonts and colours come from the host page, so the form looks like its own;
  // the button takes the host's --lg-accent colour (blue without it), not the browser's grey.
  var CSS =
    ".lg-f{display:grid;gap:1em}" +
    ".lg-f :is(input,select,textarea){font:inherit;box-sizing:border-box;width:100%;padding:.5em}" +
    ".lg-f .lg-c input{width:auto}.lg-c{display:flex;gap:.5em}" +
    ".lg-f fieldset{border:0;padding:0}.lg-f p{margin:0}.lg-e{color:#b3261e}" +
    ".lg-hp{position:absolute;left:-9999px}.lg-b{font:inherit;padding:.5em 1em;justify-self:start;" +
    "border:0;border-radius:4px;background:var(--lg-accent,#1f5fbf);color:#fff}" +
    ".lg-f :focus-visible{outline:3px solid #ffbf47;outline-offset:2px}";

  /** Create an element with attributes (null values skipped) and text, optionally appended. */
  function element(tag, attributes, parent, text) {
    var node = document.createElement(tag);
    for (var name in attributes) {
      if (attributes[name] != null) node.setAttribute(name, attributes[name]);
    }
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /** The definition of a form in a language: one request per page, shared by its elements. */
  function load(slug, language, fresh) {
    var url =
      base + "/api/v1/forms/" + encodeURIComponent(slug) + (language ? "?lang=" + language : "");
    var request = (!fresh && definitions[url]) || fetch(url, { credentials: "omit", cache: fresh ? "no-store" : "default" }).then(
      function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw data;
          data.received = Date.now();
          return data;
        });
      }
    );
    if (!fresh) definitions[url] = request;
    return request;
  }

  function query(name) {
    return new URLSearchParams(window.location.search).get(name);
  }

  /** Attribution the page knows and the server cannot: where the visitor came from. */
  function context() {
    // The page's query as it is (UTM parameters, ad click ids): the server keeps the keys it
    // knows and drops the rest; the whole address is sent as page_url anyway.
    var found = {};
    new URLSearchParams(window.location.search).forEach(function (value, name) {
      found[name] = value;
    });
    found.page_url = window.location.href;
    found.referrer = document.referrer; // "" when there is none: dropped like any empty value
    return found;
  }

  /** Count a view or a start: an aggregate counter on the server, nothing about the visitor.
   * A beacon is a text/plain POST with no answer to read: no preflight, nothing to fail. */
  function beacon(definition, kind) {
    navigator.sendBeacon(definition.beacon_url, JSON.stringify({ kind: kind, context: context() }));
  }

  function randomKey() {
    // 128 random bits; crypto.randomUUID would need a secure context, partner pages may not be.
    return window.crypto.getRandomValues(new Uint32Array(4)).join("-");
  }

  function showCaptcha(box, captcha) {
    captchaScript =
      captchaScript ||
      new Promise(function (resolve) {
        element("script", { src: captcha.script, async: "" }, document.head).onload = resolve;
      });
    captchaScript.then(function render() {
      var widget = window[captcha.global];
      if (widget && widget.render) widget.render(box, { sitekey: captcha.site_key });
      else setTimeout(render, 50);
    });
  }

  /** One labelled control with its help and error texts; returns the control. */
  function control(form, prefix, field, optional) {
    var id = prefix + field.name;
    var type = field.type;
    if (type === "hidden") {
      return element("input", {
        type: "hidden",
        name: field.name,
        value: (field.source === "query" && query(field.name)) || "",
      }, form);
    }
    var wrap = element("div", { "class": "lg-field" }, form);
    var described = id + "-e" + (field.help ? " " + id + "-h" : "");
    var attributes = {
      id: id,
      name: field.name,
      "aria-describedby": described,
      required: field.required ? "" : null,
      maxlength: field.max_length,
      placeholder: field.placeholder,
      autocomplete: field.autocomplete,
    };
    var input;
    if (type === "checkbox") {
      var box = element("label", { "class": "lg-c" }, wrap);
      attributes.type = "checkbox";
      input = element("input", attributes, box);
      element("span", {}, box, field.label);
    } else if (type === "radio") {
      var group = element("fieldset", { "aria-describedby": described }, wrap);
      element("legend", {}, group, field.label);
      field.options.forEach(function (option, index) {
        var choice = element("label", { "class": "lg-c" }, group);
        var radio = element("input", {
          type: "radio", id: index ? null : id, name: field.name, value: option.value,
        }, choice);
        input = input || radio;
        element("span", {}, choice, option.label);
      });
    } else {
      element("label", { "for": id }, wrap, field.label + (field.required ? "" : optional));
      if (type === "textarea") {
        input = element("textarea", attributes, wrap);
      } else if (field.options) {
        attributes.maxlength = null; // not an attribute of a select
        input = element("select", attributes, wrap);
        element("option", { value: "" }, input, "—"); // an empty option needs a label
        field.options.forEach(function (option) {
          element("option", { value: option.value }, input, option.label);
        });
      } else {
        attributes.type = type;
        input = element("input", attributes, wrap);
      }
    }
    if (field.help) element("p", { "class": "lg-h", id: id + "-h" }, wrap, field.help);
    element("p", { "class": "lg-e", id: id + "-e" }, wrap);
    return input;
  }

  /** Collect the form into the request body the submissions API takes. */
  function collect(form) {
    var body = { fields: {}, consents: {}, context: context() };
    for (var i = 0; i < form.elements.length; i++) {
      var input = form.elements[i];
      var name = input.name;
      if (!name || (input.type === "radio" && !input.checked)) continue;
      var value = input.type === "checkbox" ? input.checked : input.value;
      if (name.indexOf("consents.") === 0) body.consents[name.slice(9)] = value;
      else if (name.indexOf("-") > 0) body.captcha = value; // the CAPTCHA widget's answer
      else body.fields[name] = value;
    }
    return body;
  }

  function render(host, definition, language) {
    var texts = definition.texts;
    var prefix = "lg" + ++forms + "-";
    var state = { definition: definition, busy: false };
    var form = element("form", { "class": "lg-f", novalidate: "", lang: definition.language });
    var honeypot = element("div", { "class": "lg-hp", "aria-hidden": "true" }, form);
    element("input", {
      name: definition.honeypot, tabindex: "-1", autocomplete: "off", "aria-label": "-",
    }, honeypot);
    definition.fields.forEach(function (field) {
      control(form, prefix, field, " (" + texts.optional + ")");
    });
    definition.consents.forEach(function (consent) {
      control(form, prefix, {
        name: "consents." + consent.purpose,
        type: "checkbox",
        label: consent.text,
        required: consent.required,
      });
    });
    if (definition.captcha) showCaptcha(element("div", {}, form), definition.captcha);
    var button = element("button", { type: "submit", "class": "lg-b" }, form, texts.submit);
    var status = element("p", { role: "status", "aria-live": "polite" }, form);
    host.textContent = "";
    host.appendChild(form);
    hold(host);
    beacon(definition, "view");
    form.addEventListener("focusin", function () {
      beacon(definition, "start");
    }, { once: true });

    function say(text, isError) {
      status.className = isError ? "lg-e" : "";
      status.textContent = text || "";
    }

    function showErrors(fields) {
      var first;
      for (var i = 0; i < form.elements.length; i++) {
        var input = form.elements[i];
        var problems = fields[input.name];
        var error = document.getElementById(prefix + input.name + "-e");
        if (!error || input.type === "hidden") continue;
        error.textContent = problems ? problems.join(" ") : "";
        if (problems) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
        first = first || (problems && input);
      }
      if (first) first.focus();
    }

    function finish(status, answer) {
      state.busy = false;
      button.disabled = false;
      var error = answer.error;
      if ((status / 100 | 0) == 2) return succeed(answer); // 2xx
      showErrors((error && error.fields) || {});
      say((error && error.message) || texts.failed, true);
    }

    function succeed(answer) {
      // Tell the host page (tag managers, analytics) what converted, never who. track.js
      // (docs/tracking.md) takes the event's token: there only with tracking consent.
      var detail = {
        event: "leadgate_submit",
        form: definition.slug,
        classification: (answer.conversion || {}).classification,
        language: definition.language,
        variant: query("variant"), // a partner's own A/B test, from its page's address
      };
      var event = new CustomEvent("leadgate:submit", { bubbles: true, detail: detail });
      event.token = answer.tracking_token;
      host.dispatchEvent(event);
      (window.dataLayer || []).push(detail);
      if (answer.redirect_url) {
        window.location.href = new URL(answer.redirect_url, base + "/");
        return;
      }
      hold(host);
      var done = element("div", { "class": "lg-f", role: "status", tabindex: "-1" });
      element("p", {}, done, answer.message);
      if (answer.download_url) {
        var line = element("p", {}, done);
        element("a", { href: answer.download_url, "class": "lg-b", rel: "nofollow" }, line, texts.download);
      }
      if (answer.confirmation_required) element("p", {}, done, texts.check_email);
      host.textContent = "";
      host.appendChild(done);
      done.focus();
    }

    /** Send one submission: the same body and key on every attempt until an answer. */
    function send(body) {
      var payload = JSON.stringify(body);
      var attempt = 0;
      post();

      function post() {
        attempt++;
        fetch(state.definition.submit_url, { method: "POST", body: payload, credentials: "omit" })
          .then(function (response) {
            var wait = response.headers.get("Retry-After");
            if (/429|503/.test(response.status) && attempt < MAX_ATTEMPTS) {
              say(texts.busy);
              return retry(wait && Math.min(wait * 1000, 60000));
            }
            return response.json().then(
              function (answer) {
                finish(response.status, answer);
              },
              function () {
                finish(response.status, {});
              }
            );
          }, function () {
            if (attempt >= MAX_ATTEMPTS) return finish(0, {});
            say(texts.offline);
            retry();
          });
      }

      function retry(wait) {
        // 0.5 s, 1 s, 2 s ... at most 30 s, with jitter so many visitors do not return at once.
        var backoff = Math.min(30000, 250 << attempt); // 500 * 2^(attempt - 1)
        setTimeout(post, wait || backoff * (0.75 + Math.random() / 2));
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.busy) return;
      state.busy = true;
      button.disabled = true;
      say(texts.sending);
      var body = collect(form);
      body.idempotency_key = randomKey();
      var current = state.definition;
      // A page left open for long holds an old token: fetch a fresh one first.
      var ready =
        Date.now() - current.received > current.token_ttl * 1000
          ? load(current.slug, language, true)
          : Promise.resolve(current);
      ready.then(
        function (fresh) {
          state.definition = fresh;
          body.token = fresh.token;
          send(body);
        },
        function () {
          finish(0, {});
        }
      );
    });
  }

  /** Never let the host shrink: whatever follows it on the page stays where it is. */
  function hold(host) {
    host.style.minHeight = host.offsetHeight + "px";
  }

  function start(host) {
    var slug = host.getAttribute("data-leadgate-form");
    var language = host.getAttribute("data-lang");
    if (["da", "sv", "en"].indexOf(language) < 0) language = "";
    load(slug, language).then(
      function (definition) {
        render(host, definition, language);
      },
      function (problem) {
        var message = problem && problem.error && problem.error.message;
        element("p", { role: "alert" }, host, message || "Form unavailable.");
      }
    );
  }

  /** Render every form element not yet rendered (call again after adding elements). */
  function scan() {
    var hosts = document.querySelectorAll("[data-leadgate-form]");
    for (var i = 0; i < hosts.length; i++) {
      if (!hosts[i].leadgate) {
        hosts[i].leadgate = true;
        start(hosts[i]);
      }
    }
  }

  window.LeadGate = { scan: scan };
  // A nonce on our <script> tag lets the styles through a strict CSP on the host page.
  element("style", { nonce: script.nonce || null }, document.head, CSS);
  scan();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
})(window, document);
