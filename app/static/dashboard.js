/* Draws each chart's plotly figure (JSON in data-figure) and opens a point's list screen on click.

   plotly.js (4.7 MB, about 1.4 MB compressed) is fetched only once the page has loaded and a chart is
   near the screen, and each chart is drawn when it scrolls near, one per task: first paint, the
   numbers (the tables under "Show data") and the page's controls never wait for it. Each chart's box
   has its height reserved by the page (style="height"), so nothing moves when a chart is drawn. */
(function () {
  "use strict";
  var script = document.currentScript;
  var plotlyUrl = script && script.dataset.plotly;
  var config = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  var queue = [];
  var loading = null;
  var draining = false;

  function draw(div) {
    var fig = JSON.parse(div.dataset.figure);
    return Plotly.newPlot(div, fig.data, fig.layout, config).then(function () {
      // the drawing is one image named after the chart (its numbers are in the table under it);
      // plotly's second layer (legend, hover labels) is left out for screen readers
      div.querySelectorAll("svg.main-svg").forEach(function (svg, i) {
        if (i === 0) { svg.setAttribute("role", "img"); svg.setAttribute("aria-label", div.dataset.name || ""); }
        else { svg.setAttribute("aria-hidden", "true"); }
      });
      div.on("plotly_click", function (event) {
        var url = event.points.length && event.points[0].customdata;
        if (typeof url === "string" && url.charAt(0) === "/") { window.location.assign(url); }
      });
      div.dataset.drawn = "1";
    });
  }

  function loadPlotly() {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = plotlyUrl;
        tag.nonce = script.nonce;
        tag.onload = resolve;
        tag.onerror = reject;
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  function drainQueue() {
    // one chart per task, so that a tap or a key press is answered between two charts
    var div = queue.shift();
    if (!div) { draining = false; return; }
    draw(div).then(function () { window.setTimeout(drainQueue, 0); });
  }

  function want(div) {
    queue.push(div);
    if (!draining) {
      draining = true;
      loadPlotly().then(function () { window.setTimeout(drainQueue, 0); });
    }
  }

  function watch() {
    var charts = document.querySelectorAll(".crm-chart[data-figure]");
    if (!charts.length || !plotlyUrl) { return; }
    if (!("IntersectionObserver" in window)) { charts.forEach(want); return; }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { observer.unobserve(entry.target); want(entry.target); }
      });
    }, {rootMargin: "200px 0px"});
    charts.forEach(function (div) { observer.observe(div); });
  }

  if (document.readyState === "complete") { watch(); } else { window.addEventListener("load", watch); }

  var running = document.getElementById("crm-reports-running");
  if (running) {
    window.setTimeout(function () { window.location.reload(); }, 1000 * Number(running.dataset.reloadSeconds));
  }
})();
