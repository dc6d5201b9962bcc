/* hourglass dashboard: our own small HTMX. A form change fetches the view's fragment (same URL,
   header X-HG-Fragment), swaps it into the form's target, pushes the URL (every view is a link) and
   draws the fragment's charts (JSON in <script type="application/json" data-plot="div id">).
   Each response's chart divs have fresh ids, so nothing of an old chart is kept or restored. */
(function () {
  "use strict";
  var timings = (window.hgTimings = []);
  var seq = {};
  var pending = 0;
  // between a progress note and asking again: the server holds each request up to a second and
  // answers as soon as the view is there, so a short pause costs it nothing; a view done in that
  // pause waited for it (at 10M events a new hourglass range ends about then: 150 ms was up to a
  // tenth of the 1.5 s target)
  var POLL_MS = 25;

  function busy(delta) {
    pending += delta;
    document.documentElement.setAttribute("data-hg-busy", String(pending));
  }

  function draw(root) {
    var jobs = [];
    root.querySelectorAll('script[type="application/json"][data-plot]').forEach(function (s) {
      var el = document.getElementById(s.getAttribute("data-plot"));
      if (!el || !window.Plotly) return;
      var spec = JSON.parse(s.textContent);
      jobs.push(
        window.Plotly.newPlot(el, spec.data, spec.layout, spec.config).then(function () {
          el.classList.add("hg-drawn");
          if (el.hasAttribute("data-people-target")) {
            el.on("plotly_click", function (ev) {
              var pt = ev && ev.points && ev.points[0];
              var url = pt && peopleUrl(el, pt);
              if (url) load(url, el.getAttribute("data-people-target"), null);
            });
          }
        })
      );
    });
    return Promise.all(jobs);
  }

  function json(el, name) {
    try { return JSON.parse(el.getAttribute(name) || "null"); } catch (e) { return null; }
  }

  /* The people behind a clicked point: a funnel bar carries its URL; a Sankey node and a matrix
     cell are named from the chart's data-people-* attributes (the server's, never counted here). */
  function peopleUrl(el, pt) {
    var base = el.getAttribute("data-people-base");
    var kind = el.getAttribute("data-people-kind");
    if (!base) return typeof pt.customdata === "string" ? pt.customdata : null;
    if (kind === "node") {
      if (pt.sourceLinks === undefined && pt.source !== undefined) return null; // a link, not a node
      var node = (json(el, "data-people-nodes") || [])[pt.pointNumber];
      return node ? base + "node=" + encodeURIComponent(node[1]) + "&node_step=" + node[0] : null;
    }
    if (kind === "cell") {
      var idx = pt.pointIndex || [];
      var rows = json(el, "data-people-rows") || [], cols = json(el, "data-people-cols") || [];
      if (pt.z === null || pt.z === undefined || idx[0] >= rows.length || idx[1] >= cols.length) return null;
      var to = cols[idx[1]];
      return base + "move_from=" + encodeURIComponent(rows[idx[0]]) +
        "&move_to=" + encodeURIComponent(to === null ? "(end)" : to);
    }
    return null;
  }

  /* A view being computed answers with its progress (data-hg-poll: the same URL); it is asked for
     again until it is there, unless a newer request for the target came meanwhile. The timing runs
     from the first request to the chart drawn. */
  function poll(target, targetSel, n, t0) {
    var el = target.querySelector("[data-hg-poll]");
    if (!el) return false;
    busy(1);
    setTimeout(function () {
      busy(-1);
      if (n === seq[targetSel]) load(el.getAttribute("data-hg-poll"), targetSel, null, t0, true);
    }, POLL_MS);
    return true;
  }

  function load(url, targetSel, push, since, again) {
    var target = document.querySelector(targetSel);
    if (!target) return Promise.resolve();
    var n = (seq[targetSel] = (seq[targetSel] || 0) + 1);
    var t0 = since === undefined ? performance.now() : since;
    var headers = { "X-HG-Fragment": "1" };
    if (again) headers["X-HG-Poll"] = "1";
    busy(1);
    target.setAttribute("aria-busy", "true");
    return fetch(url, { headers: headers, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (n !== seq[targetSel]) return null; // a newer request for this target is on its way
        target.innerHTML = html;
        if (push) history.pushState({ hg: true }, "", push);
        if (poll(target, targetSel, n, t0)) return null;
        return draw(target).then(function () {
          timings.push({ url: url, target: targetSel, ms: performance.now() - t0 });
          if (targetSel === "#people") target.scrollIntoView({ block: "nearest" });
        });
      })
      .catch(function (e) {
        target.innerHTML = '<div class="hg-error callout" role="alert">the dashboard did not answer: ' +
          String(e).replace(/[<&]/g, "") + "</div>";
      })
      .finally(function () {
        if (n === seq[targetSel]) target.removeAttribute("aria-busy");
        busy(-1);
      });
  }

  function formUrl(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (v, k) {
      if (v !== "") params.append(k, v);
    });
    var q = params.toString();
    return form.getAttribute("action") + (q ? "?" + q : "");
  }

  function markRange(form) {
    var r = form.querySelector('select[name="range"]');
    if (r) form.setAttribute("data-range", r.value);
    var c = form.querySelector('select[name="compare"]');
    if (c) form.setAttribute("data-compare", c.value);
  }

  function refresh(form) {
    markRange(form);
    var url = formUrl(form);
    var clear = form.getAttribute("data-clear");
    if (clear && document.querySelector(clear)) document.querySelector(clear).innerHTML = "";
    return load(url, form.getAttribute("data-target"), form.hasAttribute("data-nopush") ? null : url);
  }

  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-live]");
    if (!form || e.target.matches("[data-filter]")) return;
    refresh(form);
  });

  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-live]");
    if (!form) return;
    e.preventDefault();
    refresh(form);
  });

  document.addEventListener("click", function (e) {
    var add = e.target.closest && e.target.closest("[data-add-step]");
    if (add) {
      var form = add.closest("form");
      var input = form.querySelector('input[name="steps"]');
      var steps = input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      steps.push(add.getAttribute("data-add-step"));
      input.value = steps.join(",");
      refresh(form);
      return;
    }
    var cell = e.target.closest && e.target.closest("table.channels tbody td");
    var spec = cell && document.querySelector("[data-channel-people]");
    if (cell && spec) {
      var tr = cell.parentElement;
      var row = Array.prototype.indexOf.call(tr.parentElement.children, tr);
      var col = Array.prototype.indexOf.call(tr.children, cell);
      var channels = json(spec, "data-channels") || [], stages = json(spec, "data-stages") || [];
      if (row < channels.length && col >= 1 && col - 2 < stages.length) {
        var url = spec.getAttribute("data-channel-people") + "&channel=" + encodeURIComponent(channels[row]) +
          (col >= 2 ? "&stage=" + encodeURIComponent(stages[col - 2]) : "");
        load(url, spec.getAttribute("data-people-target"), null);
        return;
      }
    }
    var link = e.target.closest && e.target.closest("a[data-get]");
    if (link && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      e.preventDefault();
      load(link.getAttribute("href"), link.getAttribute("data-target"), null);
    }
  });

  document.addEventListener("input", function (e) {
    var sel = e.target.getAttribute && e.target.getAttribute("data-filter");
    if (!sel) return;
    var needle = e.target.value.toLowerCase();
    document.querySelectorAll(sel + " li").forEach(function (li) {
      li.hidden = needle !== "" && li.textContent.toLowerCase().indexOf(needle) < 0;
    });
  });

  window.addEventListener("popstate", function () { location.reload(); });

  function start() {
    document.querySelectorAll("form[data-live]").forEach(markRange);
    var t0 = performance.now();
    var waiting = document.querySelector("[data-hg-poll]");
    var box = waiting && waiting.parentElement && waiting.parentElement.closest("[id]");
    if (box) {  // the page's view is being computed: asked for until it is there
      var sel = "#" + box.id;
      seq[sel] = (seq[sel] || 0) + 1;
      poll(box, sel, seq[sel], 0); // timed from the page's request (navigation start)
      return;
    }
    busy(1);
    draw(document).then(function () {
      timings.push({ url: location.pathname + location.search, target: "page", ms: performance.now() - t0 });
      busy(-1);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
