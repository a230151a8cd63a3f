// The browser's time zone for the server's dates and times (app/i18n/formatting.py: crm_tz).
(function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (zone && document.cookie.indexOf("crm_tz=" + zone) < 0) {
    document.cookie = "crm_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  }
})();

// AJAX selects: search the related screen's /lookup/ endpoint as the user types,
// so neither a form nor a list filter ever loads a whole related table.
$(function () {
  // The owner filter "is in team" searches teams, the other operations users (AjaxFilterWidget):
  // the options of the other kind (a team and a user may share an id) go when the operation is chosen.
  function inTeam($el) {
    var op = $el.closest("tr").find("select.filter-op").val();
    return $el.data("team-op") !== undefined && String(op) === String($el.data("team-op"));
  }
  function ajaxSelect(el) {
    var $el = $(el);
    if ($el.data("select2")) { return; }
    var team = inTeam($el), value = $el.val();
    if ($el.data("team-op") !== undefined) {
      $el.find("option[data-kind]").filter(function () {
        return ($(this).data("kind") === "team") !== team;
      }).remove();
      $el.val(value);
      if ($el.val() !== value) { $el.val(null); }
    }
    $el.select2({
      theme: "bootstrap",
      width: "100%",
      allowClear: $el.data("allow-clear") === true,
      placeholder: $el.data("placeholder") || "",
      minimumInputLength: 0,
      language: {
        searching: function () { return $el.data("searching"); },
        noResults: function () { return $el.data("no-results"); },
        errorLoading: function () { return $el.data("error-loading"); }
      },
      ajax: {
        url: team ? $el.data("team-endpoint") : $el.data("endpoint"),
        dataType: "json",
        delay: 250,
        data: function (params) {
          // narrowed by the fields already chosen: an activity's contact among its customer's contacts
          var args = { q: params.term || "" };
          narrowing($el).forEach(function (name) {
            var value = $el.closest("form").find("[name='" + name + "']").val();
            if (value) { args[name] = value; }
          });
          return args;
        },
        processResults: function (data) { return { results: data.results || [] }; }
      }
    });
    $el.data("crm-team", team);
    if (window.crmA11y && el.parentNode) { window.crmA11y.tidy(el.parentNode); }
  }
  function narrowing($el) {
    return String($el.data("narrow") || "").split(",").filter(function (name) { return name; });
  }
  // a new choice in a narrowing field clears the fields it narrows
  $(document).on("change", "form select.crm-ajax-select", function () {
    var name = this.name, $form = $(this).closest("form");
    $form.find("select.crm-ajax-select").each(function () {
      if (narrowing($(this)).indexOf(name) >= 0 && $(this).val()) { $(this).val(null).trigger("change"); }
    });
  });
  $("select.crm-ajax-select").each(function () { ajaxSelect(this); });
  // another operation chosen on an owner filter: its value is picked afresh (a team or a user)
  $(document).on("change select2:select", "#filter_form select.filter-op", function () {
    var $value = $(this).closest("tr").find("select.crm-ajax-select[data-team-op]");
    if (!$value.length || !$value.data("select2") || inTeam($value) === $value.data("crm-team")) { return; }
    $value.select2("destroy");
    $value.find("option[value!='']").remove();
    $value.val(null);
    ajaxSelect($value[0]);
  });
  // list filters are added by FAB's script after the page loaded
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      $(change.addedNodes).find("select.crm-ajax-select").addBack("select.crm-ajax-select")
        .each(function () { ajaxSelect(this); });
    });
  }).observe(document.body, { childList: true, subtree: true });
});

// "Back" links (a.crm-back) on error pages: the previous page, or the link's own target
// when there is none. A handler here, not href="javascript:...", which the CSP blocks.
$(document).on("click", "a.crm-back", function (event) {
  if (window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// Bootstrap's dropdown menus (top bar, "Add filter") open with Enter, Space or Down and close with
// Escape; this also closes one when Tab takes the focus out of it, as a click elsewhere does (issue 26).
$(document).on("focusout", ".dropdown.open, .btn-group.open", function (event) {
  var next = event.relatedTarget;
  if (!next || this.contains(next)) { return; }
  $(this).removeClass("open").find("[data-toggle=dropdown]").attr("aria-expanded", "false");
});

// FAB's filter script (ab_filters.js) calls datetimepicker() on a new date filter, which FAB's bundle
// lacks (it has bootstrap-datepicker's datepicker()): the call threw and cut the row's set-up short.
// The field stays a text box typed as YYYY-MM-DD HH:MM:SS, usable by keyboard (issue 26).
if (window.jQuery && !$.fn.datetimepicker) { $.fn.datetimepicker = function () { return this; }; }
