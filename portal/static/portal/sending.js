// The "sending stopped" banner of every staff page: asks /admin/sending.json every few
// seconds and shows or hides the banner in place, so a stop is seen without a reload. The
// batch page listens for "portal:sending" to stop counting its ETA. Text only (textContent).
(function () {
  "use strict";

  function watch(banner) {
    const every = Number(banner.dataset.poll || 3) * 1000;
    const message = banner.querySelector('[data-sending="message"]');

    function show(status) {
      banner.hidden = !status.stopped;
      message.textContent = status.message;
      document.dispatchEvent(new CustomEvent("portal:sending", { detail: status }));
    }

    function refresh() {
      fetch(banner.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status));
        })
        .then(show)
        .catch(function () {})
        .finally(function () {
          window.setTimeout(refresh, every);
        });
    }

    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    const banner = document.getElementById("sending-banner");
    if (banner) {
      watch(banner);
    }
  });
})();
