// Refreshes the page every 5 s: fetches it again and swaps its live part
// in place (the scroll position stays), unless the tab is hidden or a
// form has the focus. Once a form is submitted nothing is swapped: a form
// taken out of the page before its submission goes would lose the click.
// Without JavaScript the page is complete as served.
(function () {
  var every = 5000;
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; }, true);
  function tick() {
    var live = document.getElementById("live");
    var focus = document.activeElement;
    var busy = focus && focus.closest && focus.closest("form");
    if (!live || document.hidden || busy || leaving) {
      setTimeout(tick, every);
      return;
    }
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (!answer.ok) { throw new Error("HTTP " + answer.status); }
        return answer.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        if (fresh && !leaving) { live.replaceWith(fresh); }
        document.body.classList.remove("stale");
      })
      .catch(function () { document.body.classList.add("stale"); })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
