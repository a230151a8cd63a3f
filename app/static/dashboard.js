/* The dashboard's charts are drawn on the server (inline SVG: app/reports/svg_charts.py); this script only
   exports a chart as PNG (the SVG drawn on a canvas, no library) and reloads the page while reports are
   being generated. Without it the charts, their links, their tables and the CSV export all work. */
(function () {
  "use strict";
  var SCALE = 2;  // a sharper picture than the screen's: twice the drawing's own size

  function download(blob, name) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  // the SVG as a PNG blob: its colours and sizes are presentation attributes, so it draws alone
  function toPng(svg) {
    return new Promise(function (resolve, reject) {
      var box = svg.viewBox.baseVal;
      var copy = svg.cloneNode(true);
      copy.setAttribute("width", box.width);
      copy.setAttribute("height", box.height);
      var source = new XMLSerializer().serializeToString(copy);
      var url = URL.createObjectURL(new Blob([source], {type: "image/svg+xml"}));
      var image = new Image();
      image.onload = function () {
        var canvas = document.createElement("canvas");
        canvas.width = box.width * SCALE;
        canvas.height = box.height * SCALE;
        var context = canvas.getContext("2d");
        context.fillStyle = "#ffffff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) { if (blob) { resolve(blob); } else { reject(new Error("no PNG")); } },
                      "image/png");
      };
      image.onerror = function () { URL.revokeObjectURL(url); reject(new Error("the chart cannot be drawn")); };
      image.src = url;
    });
  }

  document.querySelectorAll(".crm-png").forEach(function (button) {
    var svg = button.closest(".crm-figure").querySelector("svg.crm-svg");
    if (!svg) { return; }
    button.hidden = false;  // a button that works only with this script: shown by it
    button.addEventListener("click", function () {
      toPng(svg).then(function (blob) { download(blob, button.dataset.file || "chart.png"); });
    });
  });

  var running = document.getElementById("crm-reports-running");
  if (running) {
    window.setTimeout(function () { window.location.reload(); }, 1000 * Number(running.dataset.reloadSeconds));
  }
})();
