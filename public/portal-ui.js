// Small enhancements that need no WASM: copy buttons and the theme toggle.
(function () {
  var root = document.documentElement;
  try {
    var saved = localStorage.getItem("theme");
    if (saved === "dark" || saved === "light") root.setAttribute("data-theme", saved);
  } catch (e) {}
  document.addEventListener("click", function (e) {
    var copy = e.target.closest && e.target.closest("[data-copy]");
    if (copy) {
      var text = copy.getAttribute("data-copy");
      var done = function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, done);
      } else {
        var area = document.createElement("textarea");
        area.value = text;
        document.body.appendChild(area);
        area.select();
        try { document.execCommand("copy"); } catch (err) {}
        document.body.removeChild(area);
        done();
      }
      return;
    }
    var toggle = e.target.closest && e.target.closest("[data-theme-toggle]");
    if (toggle) {
      var dark = root.getAttribute("data-theme") === "dark" ||
        (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("theme", next); } catch (err) {}
    }
  });
})();

// Live pages: an element with data-live="<url>" asks for one server-sent-events connection;
// each change is passed on as an "imagestreams:change" event the page listens to. EventSource
// reconnects by itself and resumes from the last event id (the resourceVersion).
(function () {
  var source = null, url = null;
  function sync() {
    var el = document.querySelector("[data-live]");
    var want = el ? el.getAttribute("data-live") : null;
    if (want === url) return;
    if (source) { source.close(); source = null; }
    url = want;
    if (!url || !window.EventSource) return;
    source = new EventSource(url);
    source.onmessage = function (e) {
      // Counted on <html> (data-live-changes): a live part that hydrates after a change was
      // passed on reads itself at once (app/src/live/mod.rs, LIVE_CHANGES_ATTRIBUTE).
      var html = document.documentElement;
      html.setAttribute("data-live-changes", String(Number(html.getAttribute("data-live-changes") || 0) + 1));
      window.dispatchEvent(new CustomEvent("imagestreams:change", { detail: e.data }));
    };
  }
  function start() {
    sync();
    new MutationObserver(sync).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-live"] });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// Relative times ("3 minutes ago") tick without a reload: every <time data-ago datetime=…> is
// worded again every second, as the server words it (domain::present::human_duration): a wall
// must not say "Less than a second ago" for ten seconds. One timer for the page's life; it
// touches only text that changed (a few hundred times on a page take well under a millisecond).
(function () {
  function words(s) {
    if (s < 1) return "Less than a second";
    if (s === 1) return "1 second";
    if (s < 60) return s + " seconds";
    var m = Math.floor(s / 60);
    if (m === 1) return "About a minute";
    if (m < 60) return m + " minutes";
    var h = Math.floor((s + 1800) / 3600);
    if (h === 1) return "About an hour";
    if (h < 48) return h + " hours";
    if (h < 24 * 14) return Math.floor(h / 24) + " days";
    if (h < 24 * 60) return Math.floor(h / 24 / 7) + " weeks";
    if (h < 24 * 730) return Math.floor(h / 24 / 30) + " months";
    return Math.floor(Math.floor(s / 3600) / 24 / 365) + " years";
  }
  function tick() {
    var now = Date.now();
    var times = document.querySelectorAll("time[data-ago]");
    for (var i = 0; i < times.length; i++) {
      var t = Date.parse(times[i].getAttribute("datetime"));
      if (isNaN(t)) continue;
      var text = words(Math.floor((now - t) / 1000)) + " ago";
      if (times[i].textContent !== text) times[i].textContent = text;
    }
  }
  window.imagestreamsTickTimes = tick;
  setInterval(tick, 1000);
})();
