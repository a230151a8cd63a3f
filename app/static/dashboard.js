/* Draws each chart's plotly figure (JSON in data-figure) and opens a point's list screen on click.

   plotly.js (4.7 MB, about 1.4 MB compressed, over a second of a phone's main thread to evaluate) is a
   facade's weight: it is fetched only once the page has loaded and its reader first scrolls, touches,
   points or presses a key; each chart is then drawn when it comes near the screen, one per task.
   First paint, the numbers (the tables under "Show data") and the page's controls never wait for it,
   and each chart's box has its height reserved by the page, so nothing moves when a chart is drawn. */
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
    div.textContent = "";  // the note "drawn when you scroll..." makes way for the drawing
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

  // the reader's first sign of presence; a page nobody touches (or a bot) never pays for plotly
  var PRESENCE = ["scroll", "wheel", "touchstart", "pointerdown", "pointermove", "keydown"];
  function present() {
    PRESENCE.forEach(function (type) { window.removeEventListener(type, present, true); });
    if (document.readyState === "complete") { watch(); } else { window.addEventListener("load", watch); }
  }
  PRESENCE.forEach(function (type) { window.addEventListener(type, present, {capture: true, passive: true}); });

  var running = document.getElementById("crm-reports-running");
  if (running) {
    window.setTimeout(function () { window.location.reload(); }, 1000 * Number(running.dataset.reloadSeconds));
  }
})();
