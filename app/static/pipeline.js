// Pipeline board: cards move between stage columns by native HTML5 drag and drop, or without a
// mouse by each card's "Move to" menu button (issue 26). Both save by POSTing
// {opportunity, stage, version} with the page's CSRF token; a refusal (stale version, no
// permission, bad input) puts the card back where it was. A move is announced (aria-live).
(function () {
  "use strict";
  var board = document.getElementById("pipeline-board");
  if (!board) { return; }
  var message = document.getElementById("pipeline-message");
  var status = document.getElementById("pipeline-status");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var dragged = null;

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function announce(text) {
    if (status) { status.textContent = text; }
  }

  function stageName(column) {
    return column.getAttribute("aria-label");
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

  // Move `card` to the top of `column` and save it; `after` runs once the card is in place.
  function moveCard(card, column, after) {
    var from = card.parentNode, next = card.nextSibling;
    var fromColumn = from.closest(".crm-board-column");
    if (column === fromColumn) { return; }
    column.querySelector(".crm-cards").insertBefore(card, column.querySelector(".crm-card"));
    card.classList.add("crm-saving");
    card.setAttribute("aria-busy", "true");
    show("");
    announce(board.getAttribute("data-moving"));
    if (after) { after(); }
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
      card.removeAttribute("aria-busy");
      adjust(fromColumn, card, -1);
      adjust(column, card, +1);
      var name = card.querySelector(".crm-card-name").textContent.trim();
      announce(board.getAttribute("data-moved").replace("{name}", name).replace("{stage}", stageName(column)));
    }).catch(function (error) {
      var focused = card.contains(document.activeElement) ? document.activeElement : null;
      from.insertBefore(card, next);  // snap back
      if (focused) { focused.focus(); }
      card.classList.remove("crm-saving");
      card.removeAttribute("aria-busy");
      announce("");
      show(error.message);
    });
  }

  // ------------------------------------------------------------ drag and drop (mouse)
  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".crm-card") : null;
    if (!card || card.getAttribute("draggable") !== "true") { return; }
    dragged = card;
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
    var card = dragged;
    dragged = null;
    moveCard(card, column);
  });

  // ------------------------------------------------------------ "Move to" menu button (keyboard)
  // One menu (role=menu) at a time, built from the board's columns when its button opens it:
  // Enter, Space or the arrow keys open it; arrows, Home and End move in it; Enter picks a
  // stage; Escape closes it and gives the focus back to the button; Tab closes it.
  var open = null;  // {button, menu}

  function closeMenu(refocus) {
    if (!open) { return; }
    var button = open.button;
    open.menu.remove();
    button.setAttribute("aria-expanded", "false");
    open = null;
    if (refocus) { button.focus(); }
  }

  function items() {
    return open ? Array.prototype.slice.call(open.menu.querySelectorAll("[role=menuitem]")) : [];
  }

  function focusItem(index) {
    var all = items();
    if (!all.length) { return; }
    all[(index + all.length) % all.length].focus();
  }

  function openMenu(button, last) {
    closeMenu(false);
    var card = button.closest(".crm-card");
    var current = card.closest(".crm-board-column");
    var menu = document.createElement("ul");
    menu.className = "dropdown-menu crm-move-menu";
    menu.setAttribute("role", "menu");
    menu.id = "crm-move-menu";
    menu.setAttribute("aria-label", button.textContent.trim());
    board.querySelectorAll(".crm-board-column").forEach(function (column) {
      if (column === current) { return; }
      var li = document.createElement("li");
      li.setAttribute("role", "none");
      var item = document.createElement("button");
      item.type = "button";
      item.className = "crm-move-item";
      item.setAttribute("role", "menuitem");
      item.setAttribute("tabindex", "-1");
      item.setAttribute("data-stage", column.getAttribute("data-stage"));
      item.textContent = stageName(column);
      li.appendChild(item);
      menu.appendChild(li);
    });
    button.parentNode.appendChild(menu);
    button.setAttribute("aria-controls", menu.id);
    button.setAttribute("aria-expanded", "true");
    open = {button: button, menu: menu};
    focusItem(last ? -1 : 0);
  }

  board.addEventListener("click", function (event) {
    var button = event.target.closest(".crm-move");
    if (button) {
      if (open && open.button === button) { closeMenu(true); } else { openMenu(button, false); }
      return;
    }
    var item = event.target.closest(".crm-move-item");
    if (item && open) {
      var moving = open.button;
      var card = moving.closest(".crm-card");
      var column = board.querySelector('.crm-board-column[data-stage="' + item.getAttribute("data-stage") + '"]');
      closeMenu(true);
      moveCard(card, column, function () { moving.focus(); });  // the card moved: its button keeps the focus
    }
  });

  board.addEventListener("keydown", function (event) {
    var button = event.target.closest(".crm-move");
    if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      openMenu(button, event.key === "ArrowUp");
      return;
    }
    if (!open || !open.menu.contains(event.target)) { return; }
    var index = items().indexOf(event.target);
    if (event.key === "ArrowDown") { event.preventDefault(); focusItem(index + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); focusItem(index - 1); }
    else if (event.key === "Home") { event.preventDefault(); focusItem(0); }
    else if (event.key === "End") { event.preventDefault(); focusItem(-1); }
    else if (event.key === "Escape") { event.preventDefault(); closeMenu(true); }
    else if (event.key === "Tab") { closeMenu(true); }  // then Tab goes on from the button
  });

  board.addEventListener("keydown", function (event) {  // Escape on the button itself closes too
    if (event.key === "Escape" && open && event.target === open.button) { closeMenu(true); }
  });

  document.addEventListener("click", function (event) {
    if (open && !open.menu.contains(event.target) && event.target !== open.button
        && !open.button.contains(event.target)) { closeMenu(false); }
  });
}());
