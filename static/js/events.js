// The clerk's event screen: keeps a rotating QR code current and the list of check-ins live.
(function () {
  "use strict";
  var box = document.getElementById("event-qr");
  if (!box) return;
  // The page's words, in its language, from a JSON block (no inline script under the CSP).
  var T = JSON.parse(document.getElementById("event-text").textContent);
  var rotating = box.getAttribute("data-rotating") === "true";
  var hourBased = box.getAttribute("data-hour") === "true";
  var codeUrl = box.getAttribute("data-code-url");
  var qrUrl = box.getAttribute("data-qr-url");
  var checkinsUrl = box.getAttribute("data-checkins-url");
  var scansUrl = box.getAttribute("data-scans-url");
  var img = document.getElementById("qr");
  var countdown = document.getElementById("countdown");
  var urlText = document.getElementById("checkin-url");
  var lastId = 0;
  var count = 0;
  var secondsLeft = null;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrf_access_token=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // --- the rotating code ---------------------------------------------------------------------------

  function refreshCode() {
    return getJson(codeUrl)
      .then(function (code) {
        // Load the new image before swapping, so the screen never shows a blank square.
        var next = new Image();
        next.onload = function () {
          img.src = next.src;
          img.setAttribute("data-token", code.token);
        };
        next.src = qrUrl + "?t=" + encodeURIComponent(code.token);
        urlText.textContent = code.checkin_url;
        secondsLeft = code.seconds_left;
        window.setTimeout(refreshCode, Math.max(1, code.seconds_left) * 1000 + 300);
      })
      .catch(function () {
        if (countdown) countdown.textContent = T.offline;
        window.setTimeout(refreshCode, 3000);
      });
  }

  function tick() {
    if (secondsLeft !== null && countdown) {
      countdown.textContent = String(T.secondsLeft).replace("{n}", String(Math.max(0, secondsLeft)));
      secondsLeft -= 1;
    }
  }

  // --- the live list -------------------------------------------------------------------------------

  function statusText(c) {
    if (c.status === "awaiting-checkout") return T.awaiting;
    if (c.status === "no-points") return T.noPoints;
    var label = (T.status || {})[c.status] || c.status;
    return c.points != null ? c.points + " · " + label : label;
  }

  function checkoutButton(c) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = T.checkout;
    b.addEventListener("click", function () {
      b.disabled = true;
      fetch(checkinsUrl + "/" + c.id + "/checkout", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-TOKEN": csrfToken() }
      })
        .then(function (r) { return r.json(); })
        .then(function (updated) { renderRow(updated); })
        .catch(function () { b.disabled = false; });
    });
    return b;
  }

  function renderRow(c) {
    var tbody = document.getElementById("checkins");
    var tr = tbody.querySelector('tr[data-id="' + c.id + '"]');
    var isNew = !tr;
    if (isNew) {
      tr = document.createElement("tr");
      tr.setAttribute("data-id", String(c.id));
      tbody.insertBefore(tr, tbody.firstChild);
    }
    tr.innerHTML = "";
    var when = new Date(c.checked_in_at);
    [when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), c.member_name, c.household_code, statusText(c)].forEach(
      function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
    );
    tr.lastChild.className = c.status === "posted" ? "status-posted" : "";
    if (hourBased) {
      var td = document.createElement("td");
      if (c.status === "awaiting-checkout") td.appendChild(checkoutButton(c));
      tr.appendChild(td);
    }
    return isNew;
  }

  function pollCheckins() {
    return getJson(checkinsUrl + "?per_page=200&since_id=" + lastId)
      .then(function (page) {
        page.items.forEach(function (c) {
          if (renderRow(c)) count += 1;
          lastId = Math.max(lastId, c.id);
        });
        document.getElementById("checkin-count").textContent = String(count);
        // A full page means more are waiting: fetch again at once.
        window.setTimeout(pollCheckins, page.items.length === 200 ? 0 : 3000);
      })
      .catch(function () { window.setTimeout(pollCheckins, 5000); });
  }

  function pollScans() {
    return getJson(scansUrl + "?per_page=20")
      .then(function (page) {
        var ul = document.getElementById("scans");
        ul.innerHTML = "";
        page.items.forEach(function (s) {
          var li = document.createElement("li");
          var ok = s.outcome === "created" || s.outcome === "already";
          var when = new Date(s.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
          var who = [s.member_name, s.household_code].filter(function (x) { return x; }).join(" · ");
          li.textContent = when + (who ? " · " + who : "") + " · " +
            (ok ? (s.outcome === "created" ? T.accepted : T.already) : T.refused + ": " + (s.detail || s.outcome));
          li.className = ok ? "" : "status-refused";
          ul.appendChild(li);
        });
        window.setTimeout(pollScans, 5000);
      })
      .catch(function () { window.setTimeout(pollScans, 8000); });
  }

  if (rotating) {
    refreshCode();
    window.setInterval(tick, 1000);
  }
  pollCheckins();
  pollScans();
})();
