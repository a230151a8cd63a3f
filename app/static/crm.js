// AJAX selects: search the related screen's /lookup/ endpoint as the user types,
// so a form never loads a whole related table.
$(function () {
  $("select.crm-ajax-select").each(function () {
    var $el = $(this);
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
        url: $el.data("endpoint"),
        dataType: "json",
        delay: 250,
        data: function (params) { return { q: params.term || "" }; },
        processResults: function (data) { return { results: data.results || [] }; }
      }
    });
  });
});
