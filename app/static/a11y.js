// Accessibility fixes for the third-party widgets the pages use (issue #26; tests/browser/test_a11y_*.py).
// Select2 4.0 (FAB's selects and ours): each box named by its field's <label>; no nameless
// role="textbox" on the shown value and no stray child in the chosen items' <ul> (as Select2 4.1
// does upstream). Select2 redraws these parts on every change, so they are tidied as they appear.
(function () {
  function name(select) {
    var label = select.id && document.querySelector("label[for='" + select.id + "']");
    var box = select.nextElementSibling;
    if (!box || !box.classList.contains("select2")) { return; }
    var selection = box.querySelector(".select2-selection");
    var field = box.querySelector(".select2-search__field");
    if (label) {
      if (!label.id) { label.id = select.id + "-label"; }
      if (selection && selection.getAttribute("role") === "combobox") {
        var shown = box.querySelector(".select2-selection__rendered");
        selection.setAttribute("aria-labelledby", label.id + (shown && shown.id ? " " + shown.id : ""));
      }
      if (field) { field.setAttribute("aria-labelledby", label.id); }
    } else if (field && !field.getAttribute("aria-label") && select.getAttribute("aria-label")) {
      field.setAttribute("aria-label", select.getAttribute("aria-label"));
    }
  }
  function tidy(root) {
    root.querySelectorAll(".select2-selection__rendered[role='textbox']").forEach(function (el) {
      el.removeAttribute("role");
      el.removeAttribute("aria-readonly");
    });
    root.querySelectorAll(".select2-selection__clear").forEach(function (el) {
      el.setAttribute("aria-hidden", "true");
    });
    root.querySelectorAll("select.select2-hidden-accessible").forEach(name);
  }
  var SVG = "http://www.w3.org/2000/svg", pending = false;
  function later() {  // once per frame, whatever a redraw added (charts' SVG nodes are not looked at)
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () { pending = false; tidy(document); });
    }
  }
  // crm.js names a select at once when it makes it a Select2 box, not a frame later (axe, screen readers)
  window.crmA11y = { tidy: tidy };
  function start() {
    tidy(document);
    new MutationObserver(function (changes) {
      var html = changes.some(function (change) {
        return Array.prototype.some.call(change.addedNodes, function (node) {
          return node.nodeType === 1 && node.namespaceURI !== SVG;
        });
      });
      if (html) { later(); }
    }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// Bootstrap 3's collapse sets aria-expanded on the panel it opens as well as on its toggle; on a
// plain <div> that attribute is invalid ARIA (axe: aria-allowed-attr). The toggle keeps its own.
if (window.jQuery) {
  window.jQuery(document).on("shown.bs.collapse hidden.bs.collapse", function (event) {
    if (!event.target.getAttribute("role")) { event.target.removeAttribute("aria-expanded"); }
  });
}
