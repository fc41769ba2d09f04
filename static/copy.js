// Copy buttons for embed code in the back office. Without JS the code stays readable in its <pre>.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        if (status) status.textContent = button.textContent.trim() + ": OK";
      });
    });
  });
})();
