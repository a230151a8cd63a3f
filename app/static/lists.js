// Lists and record pages (views/mixins/quick_search.py): keyboard shortcuts, the delete
// confirmation of a record page, and the list's search kept when FAB's filter form is sent.
(function () {
  "use strict";

  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function focusField(field) {
    field.focus();
    if (field.select) { field.select(); }
  }

  var pendingG = 0;  // time of a lone "g", for "g s"
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) { return; }
    var global = document.querySelector("#crm-topbar-search input[name=q]");
    // Ctrl+K / Cmd+K: the CRM-wide search, from anywhere (also while typing)
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      if (global && global.offsetParent !== null) { focusField(global); }
      else { window.location.href = (document.body.dataset.searchUrl || "/search/"); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "/") {
      var list = document.querySelector("#crm-list-search input[name=q]") || global;
      if (list) { event.preventDefault(); focusField(list); }
      return;
    }
    if (event.key === "g") { pendingG = Date.now(); return; }
    if (event.key === "s" && Date.now() - pendingG < 1200) {
      pendingG = 0;
      event.preventDefault();
      if (global && global.offsetParent !== null) { focusField(global); }
      else { window.location.href = "/search/"; }
    }
  });

  // a record page's Delete asks first, naming the record, in FAB's dialog when the page has it
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("crm-delete-form") || form.dataset.confirmed) { return; }
    event.preventDefault();
    var question = form.querySelector("[data-confirm]").dataset.confirm;
    var modal = window.jQuery && window.jQuery("#modal-confirm");
    if (!modal || !modal.length) {
      if (window.confirm(question)) { form.dataset.confirmed = "1"; form.submit(); }
      return;
    }
    modal.find(".modal-body").text(question);
    modal.find("#modal-confirm-ok").off("click.crmdelete").one("click.crmdelete", function (e) {
      e.preventDefault();
      form.dataset.confirmed = "1";
      form.submit();
    });
    modal.one("hidden.bs.modal", function () { modal.find("#modal-confirm-ok").off("click.crmdelete"); });
    modal.modal("show");
  });

  // "Add filter" (FAB's ab_filters.js adds the row): the new filter's value field takes the focus,
  // named after its column, instead of the focus falling to the page when the menu entry hides (issue 26)
  document.addEventListener("click", function (event) {
    var entry = event.target.closest ? event.target.closest("#filter_form a.filter") : null;
    if (!entry) { return; }
    event.preventDefault();  // href="#": no jump to the top
    var label = entry.textContent.trim();
    window.setTimeout(function () {  // after FAB's handler and the select2 set-up of a related column
      var rows = document.querySelectorAll("#filter_form .filters tr");
      var row = rows[rows.length - 1];
      var field = row && row.querySelector(".filter_val");
      if (!field) { return; }
      var op = row.querySelector("select.filter-op");
      if (op && !op.hasAttribute("aria-label")) { op.setAttribute("aria-label", label); }
      if (!field.hasAttribute("aria-label")) { field.setAttribute("aria-label", label); }
      var enhanced = field.nextElementSibling;
      var target = enhanced && enhanced.classList.contains("select2") ?
        enhanced.querySelector(".select2-selection") : field;
      (target || field).focus();
    }, 0);
  });

  // FAB's filter form sends only its filters: keep the list's search with them
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "filter_form") { return; }
    var box = document.querySelector("#crm-list-search input[name=q]");
    if (box && box.value && !form.querySelector("input[name=q]")) {
      var kept = document.createElement("input");
      kept.type = "hidden"; kept.name = "q"; kept.value = box.value;
      form.appendChild(kept);
    }
  }, true);
}());
