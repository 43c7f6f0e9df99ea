// Big actions answer within seconds, but not at once: the button pressed says it is working
// (its data-busy text) and a second press is ignored, so a slow answer is not sent twice.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.classList.contains("busy-form")) {
      return;
    }
    if (form.dataset.busy === "1") {
      event.preventDefault(); // already on its way
      return;
    }
    form.dataset.busy = "1";
    const button = event.submitter;
    if (!button) {
      return;
    }
    const text = button.dataset.busy || "Working…";
    button.classList.add("busy");
    button.setAttribute("aria-busy", "true");
    if (button.tagName === "BUTTON") {
      button.textContent = text;
    } else {
      const note = document.createElement("span");
      note.className = "busy-note";
      note.setAttribute("role", "status");
      note.textContent = text;
      button.insertAdjacentElement("afterend", note);
    }
  });
})();
