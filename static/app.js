// Backorder Desk: the little script the pages need. Loaded from the app's own origin
// (the Content-Security-Policy forbids inline scripts). Every page works without it.
(function () {
  "use strict";
  // "/" focuses the order search from anywhere, unless the person is typing already.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing) return;
    var search = document.getElementById("global-search");
    if (search) {
      var menu = search.closest("details");
      if (menu && !menu.open) menu.open = true;
      event.preventDefault();
      search.focus();
      search.select();
    }
  });

  // Copy buttons: `data-copy-from` names the element whose `[data-answer]` sentences are
  // copied, `data-copy-done` the status line that says it worked. Without a script the
  // button stays hidden and the text is there to select.
  function copyText(source) {
    var parts = Array.prototype.map.call(source.querySelectorAll("[data-answer]"), function (part) {
      return part.textContent.replace(/\s+/g, " ").trim();
    });
    return parts.join("\n");
  }

  function selectFallback(source, text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    if (!done) {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    return done;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-from]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    var status = document.getElementById(button.getAttribute("data-copy-done"));
    if (!source) return;
    var text = copyText(source);
    var say = function (words) { if (status) status.textContent = words; };
    var fallback = function () {
      say(selectFallback(source, text)
        ? "Copied. Paste it into your reply."
        : "Selected: press Ctrl+C (or Cmd+C) to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        say("Copied. Paste it into your reply.");
      }, fallback);
    } else {
      fallback();
    }
  });

  // After an action, focus goes to what it said (or the field it refused), next to the
  // control that did it, so keyboard and screen-reader users are not left at the top.
  function settle(root) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy-from][hidden]"), function (button) {
      button.hidden = false;
    });
    var focus = (root || document).querySelector("[data-autofocus]");
    if (focus) {
      var details = focus.closest("details");
      if (details && !details.open) details.open = true;
      focus.focus({ preventScroll: false });
    }
  }

  // The main menu is a <details> so phones can fold it without a script; on wide screens
  // it is always open.
  function openMenuOnWideScreens() {
    var menu = document.querySelector("details.nav-menu");
    if (!menu || !window.matchMedia) return;
    var wide = window.matchMedia("(min-width: 64rem)");
    var apply = function () { if (wide.matches) menu.open = true; };
    apply();
    if (wide.addEventListener) wide.addEventListener("change", apply);
  }

  document.addEventListener("DOMContentLoaded", function () {
    openMenuOnWideScreens();
    settle(document.getElementById("main"));
  });
  document.addEventListener("htmx:afterSettle", function () { settle(document); });
})();
