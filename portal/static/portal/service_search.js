// The import page's service list: a box above it that hides the services not matching what is
// typed (every word must appear), and selects the first match. No external assets.
(function () {
  "use strict";

  function setUp(select) {
    const box = document.createElement("input");
    box.type = "search";
    box.className = "service-search";
    box.placeholder = "Type to find a service (name, price, time)";
    box.setAttribute("aria-label", "Find a service");
    select.parentNode.insertBefore(box, select);
    box.addEventListener("input", function () {
      const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      let first = null;
      select.querySelectorAll("option").forEach(function (option) {
        const text = option.textContent.toLowerCase();
        const shown = option.value ? words.every(function (w) { return text.includes(w); }) : !words.length;
        option.hidden = !shown;
        if (shown && option.value && first === null) { first = option; }
      });
      select.querySelectorAll("optgroup").forEach(function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
      const chosen = select.selectedOptions[0];
      if (first !== null && (!chosen || !chosen.value || chosen.hidden)) {
        select.value = first.value;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select.service-select").forEach(setUp);
  });
})();
