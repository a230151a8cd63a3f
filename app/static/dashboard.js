/* Draws each chart's plotly figure (JSON in data-figure) and opens a point's list screen on click. */
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var config = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  document.querySelectorAll(".crm-chart[data-figure]").forEach(function (div) {
    var fig = JSON.parse(div.dataset.figure);
    Plotly.newPlot(div, fig.data, fig.layout, config).then(function () {
      // the drawing is one image named after the chart (its numbers are in the table under it);
      // plotly's second layer (legend, hover labels) is left out for screen readers
      div.querySelectorAll("svg.main-svg").forEach(function (svg, i) {
        if (i === 0) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", div.dataset.name || ""); }
        else { svg.setAttribute("aria-hidden", "true"); }
      });
      div.dataset.drawn = "1";
    });
    div.on("plotly_click", function (event) {
      var url = event.points.length && event.points[0].customdata;
      if (typeof url === "string" && url.charAt(0) === "/") { window.location.assign(url); }
    });
  });
  var running = document.getElementById("crm-reports-running");
  if (running) {
    window.setTimeout(function () { window.location.reload(); }, 1000 * Number(running.dataset.reloadSeconds));
  }
})();
