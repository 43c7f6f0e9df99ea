// Refreshes the batch page's numbers from its progress.json every few seconds, in place.
// Every figure and error is set with textContent, never innerHTML: error texts come from the
// provider. Only the chart, the server's own escaped SVG (orders/charts.py), is set as markup.
(function () {
  "use strict";

  const panel = document.getElementById("batch-progress");
  if (!panel) {
    return;
  }
  const url = panel.dataset.url;
  const every = Number(panel.dataset.poll || 3) * 1000;
  const chartEvery = 5; // redraw the chart every 5th refresh: it costs more than the numbers
  let refreshes = 0;

  function setText(key, value) {
    panel.querySelectorAll('[data-progress="' + key + '"]').forEach(function (el) {
      el.textContent = value;
    });
  }

  function setBar(name, percent) {
    const bar = panel.querySelector('[data-bar="' + name + '"]');
    if (bar) {
      bar.setAttribute("aria-valuenow", percent);
      const fill = bar.querySelector(".bar-fill"); // a segmented bar has parts instead
      if (fill) {
        fill.style.width = percent + "%";
      }
    }
  }

  function setSegments(segments) {
    segments.forEach(function (seg) {
      const part = panel.querySelector('[data-seg="' + seg.name + '"]');
      if (part) {
        part.style.width = seg.width + "%";
        part.title = seg.count + " " + seg.label;
      }
    });
  }

  function errorRow(group) {
    const row = document.createElement("tr");
    const text = document.createElement("td");
    const link = document.createElement("a");
    link.href = group.url;
    link.title = group.error;
    link.textContent = group.text;
    text.appendChild(link);
    const count = document.createElement("td");
    count.className = "count";
    count.textContent = group.count;
    row.append(text, count);
    return row;
  }

  function setErrors(errors) {
    const body = panel.querySelector("#batch-errors tbody");
    if (!body) {
      return;
    }
    const rows = errors.map(errorRow);
    if (!rows.length) {
      const row = document.createElement("tr");
      row.className = "none";
      const cell = document.createElement("td");
      cell.colSpan = 2;
      cell.textContent = "No errors.";
      row.appendChild(cell);
      rows.push(row);
    }
    body.replaceChildren.apply(body, rows);
  }

  function show(data) {
    if (panel.dataset.open !== "0" && data.open === 0) {
      redrawChart(); // the last picture, once nothing moves any more
    }
    Object.entries(data.display).forEach(function ([key, value]) {
      setText(key, value);
    });
    setBar("sent", data.sent_percent);
    setBar("final", data.final_percent);
    setSegments(data.segments);
    setErrors(data.errors);
    panel.dataset.state = data.state;
    panel.dataset.open = data.open;
  }

  function redrawChart() {
    // The server's own escaped SVG fragment (orders/charts.py), not provider text.
    fetch(panel.dataset.chartUrl, { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(new Error("HTTP " + response.status));
      })
      .then(function (markup) {
        document.getElementById("batch-chart").innerHTML = markup;
      })
      .catch(function () {});
  }

  function refresh() {
    refreshes += 1;
    if (refreshes % chartEvery === 0) {
      redrawChart();
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        show(data);
        panel.classList.remove("stale");
      })
      .catch(function () {
        panel.classList.add("stale");
      })
      .finally(function () {
        window.setTimeout(refresh, every);
      });
  }

  window.setTimeout(refresh, every);
})();
