// Fills the "check now" rows from results.json every second until every order is final.
// Every value is set with textContent: results come from the provider.
(function () {
  "use strict";

  const table = document.getElementById("check-now-results");
  if (!table) {
    return;
  }
  const state = document.getElementById("check-now-state");

  function fill(order) {
    const row = table.querySelector('tr[data-order="' + order.id + '"]');
    if (!row) {
      return;
    }
    row.querySelectorAll("[data-field]").forEach(function (cell) {
      cell.textContent = order[cell.dataset.field] || "";
    });
    row.querySelector('[data-field="status_label"]').className = "status status-" + order.status;
  }

  function refresh() {
    fetch(table.dataset.url, { credentials: "same-origin" })
      .then(function (response) {
        return response.json();
      })
      .then(function (data) {
        data.orders.forEach(fill);
        if (data.open) {
          window.setTimeout(refresh, Number(table.dataset.poll));
        } else {
          state.textContent = "All results in.";
        }
      })
      .catch(function () {
        window.setTimeout(refresh, Number(table.dataset.poll) * 3);
      });
  }

  window.setTimeout(refresh, Number(table.dataset.poll));
})();
