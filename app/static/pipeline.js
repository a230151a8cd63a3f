// Pipeline board: native HTML5 drag and drop of cards between stage columns.
// A drop is saved by POSTing {opportunity, stage, version} with the page's CSRF token;
// a refusal (stale version, no permission, bad input) puts the card back where it was.
(function () {
  "use strict";
  var board = document.getElementById("pipeline-board");
  if (!board) { return; }
  var message = document.getElementById("pipeline-message");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var dragged = null;

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function adjust(column, card, sign) {
    var count = column.querySelector(".crm-count");
    var n = parseInt(count.getAttribute("data-count"), 10) + sign;
    count.setAttribute("data-count", n);
    count.textContent = n.toLocaleString("en-US");
    if (column.getAttribute("data-value-kind") !== "exact") { return; }  // a report or an estimate: left as labelled
    var sum = column.querySelector(".crm-sum");
    var total = parseFloat(sum.getAttribute("data-sum")) + sign * parseFloat(card.getAttribute("data-value"));
    sum.setAttribute("data-sum", total.toFixed(2));
    sum.textContent = total.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".crm-card") : null;
    if (!card || card.getAttribute("draggable") !== "true") { return; }
    dragged = {card: card, from: card.parentNode, next: card.nextSibling};
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });

  board.addEventListener("dragover", function (event) {
    var column = event.target.closest(".crm-board-column");
    if (!dragged || !column) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("crm-drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest(".crm-board-column");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("crm-drop-target"); }
  });

  board.addEventListener("dragend", function () {
    board.querySelectorAll(".crm-drop-target").forEach(function (c) { c.classList.remove("crm-drop-target"); });
  });

  board.addEventListener("drop", function (event) {
    var column = event.target.closest(".crm-board-column");
    if (!dragged || !column) { return; }
    event.preventDefault();
    column.classList.remove("crm-drop-target");
    var move = dragged;
    dragged = null;
    var fromColumn = move.from.closest(".crm-board-column");
    if (column === fromColumn) { return; }
    var card = move.card;
    column.querySelector(".crm-cards").insertBefore(card, column.querySelector(".crm-card"));
    card.classList.add("crm-saving");
    show("");
    fetch(board.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({opportunity: parseInt(card.getAttribute("data-id"), 10),
                            stage: column.getAttribute("data-stage"),
                            version: parseInt(card.getAttribute("data-version"), 10)})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) { throw new Error(body.error || board.getAttribute("data-failed")); }
        return body;
      });
    }).then(function (body) {
      card.setAttribute("data-version", body.version);
      card.classList.remove("crm-saving");
      adjust(fromColumn, card, -1);
      adjust(column, card, +1);
    }).catch(function (error) {
      move.from.insertBefore(card, move.next);  // snap back
      card.classList.remove("crm-saving");
      show(error.message);
    });
  });
}());
