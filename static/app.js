// Backorder Desk: the little script the pages need. Loaded from the app's own origin
// (the Content-Security-Policy forbids inline scripts).
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
      event.preventDefault();
      search.focus();
      search.select();
    }
  });
})();
