// A classic (non-module) script: it still runs where the module graph cannot load (the page opened as a file, or
// js/node_modules not installed), and says why on the page instead of leaving it blank.
(function () {
  function show(message) {
    const box = document.getElementById("page-error");
    box.textContent = message;
    box.hidden = false;
    const status = document.getElementById("catalog-status");
    if (status) status.textContent = "The demo could not start.";
  }
  const howToServe = "Serve the repository root over HTTP and open /web/ there, e.g. `python3 -m http.server 8000` " +
    "in the repository root, then http://127.0.0.1:8000/web/ (see web/README.md).";
  document.addEventListener("DOMContentLoaded", function () {
    if (location.protocol === "file:") show("This page was opened as a file, and browsers load neither modules nor WebAssembly from files. " + howToServe);
  });
  // A module that fails to fetch fires "error" on its <script> element; the event does not bubble, so listen while capturing.
  window.addEventListener("error", function (event) {
    const target = event.target;
    if (target && target.tagName === "SCRIPT" && location.protocol !== "file:") {
      show("The demo's scripts did not load (" + target.src + " or a module it imports): install the package's " +
        "dependencies with `cd js && npm ci`, then reload. " + howToServe);
    }
  }, true);
})();
