// The clerk's card scanner. Every scan goes into a queue kept in localStorage (with a nonce and the
// scan time) and is sent with POST /events/{id}/checkins/batch; with no connection the queue simply
// waits and is sent when the browser comes back online. The server judges each scan at its scan time,
// once per nonce, so sending a queue twice never checks anyone in twice.
(function () {
  "use strict";
  var root = document.getElementById("scanner");
  if (!root) return;
  // The page's words, in its language, from a JSON block (no inline script under the CSP).
  var T = JSON.parse(document.getElementById("scan-text").textContent);
  var eventId = root.getAttribute("data-event-id");
  var batchUrl = root.getAttribute("data-batch-url");
  var rosterUrl = root.getAttribute("data-roster-url");
  var QUEUE_KEY = "mb-scan-queue-" + eventId;
  var ROSTER_KEY = "mb-roster-" + eventId;
  var CARD = /^H(\d{1,11})\.(\d{1,9})\.([A-Z2-7]{8,32})$/;

  var queue = load(QUEUE_KEY, []);
  var roster = load(ROSTER_KEY, null);
  var current = null; // {household, card_token | household_code}
  var syncing = false;

  var $ = function (id) { return document.getElementById(id); };

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function save(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or private mode */ }
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrf_access_token=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function nonce() {
    if (window.crypto && window.crypto.randomUUID && window.isSecureContext) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function setMessage(text, bad) {
    var el = $("message");
    el.textContent = text || "";
    el.className = bad ? "error" : "";
  }

  function setOnline(online) {
    var net = $("net");
    net.textContent = online ? T.online : T.offline;
    net.className = "net " + (online ? "online" : "offline");
    net.setAttribute("data-online", online ? "true" : "false");
  }

  function renderCount() {
    $("queue-count").textContent = String(queue.length);
  }

  function resultLine(nonceValue) {
    var li = document.querySelector('#results li[data-nonce="' + nonceValue + '"]');
    if (!li) {
      li = document.createElement("li");
      li.setAttribute("data-nonce", nonceValue);
      var list = $("results");
      list.insertBefore(li, list.firstChild);
    }
    return li;
  }

  function showQueued(item) {
    var li = resultLine(item.nonce);
    li.textContent = fill(T.queued, { name: item.label });
    li.className = "";
    li.setAttribute("data-outcome", "queued");
  }

  function showResult(item, result) {
    var li = resultLine(item.nonce);
    var name = item.label;
    if (result.outcome === "created") {
      li.textContent = fill(T.created, { name: name });
      li.className = "ok";
    } else if (result.outcome === "already") {
      li.textContent = fill(T.already, { name: name });
      li.className = "ok";
    } else {
      li.textContent = fill(T.refused, { name: name, reason: result.detail || result.code });
      li.className = "bad";
    }
    li.setAttribute("data-outcome", result.outcome);
  }

  // --- the village roster, so that members can be chosen with no connection -----------------------

  function loadRoster() {
    return fetch(rosterUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (body) { roster = body.households; save(ROSTER_KEY, roster); })
      .catch(function () { /* offline: keep the copy from last time */ });
  }

  function byId(id) {
    return (roster || []).filter(function (h) { return h.id === id; })[0] || null;
  }

  function byCode(code) {
    return (roster || []).filter(function (h) { return h.code === code; })[0] || null;
  }

  // --- choosing the member -----------------------------------------------------------------------

  function choose(household, how) {
    current = { household: household, card_token: how.card_token || null, household_code: how.household_code || null };
    $("chooser-title").textContent = fill(T.household, { name: household.head_name }) + " · " + household.code;
    var box = $("members");
    box.innerHTML = "";
    household.members.forEach(function (m) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = m.name;
      b.setAttribute("data-member-id", String(m.id));
      b.addEventListener("click", function () { enqueue(m); });
      box.appendChild(b);
    });
    $("chooser").hidden = false;
    setMessage("");
  }

  function closeChooser() {
    current = null;
    $("chooser").hidden = true;
  }

  function handleCard(text) {
    var token = String(text || "").trim().toUpperCase();
    var match = CARD.exec(token);
    if (!match) { setMessage(T.notCard, true); return false; }
    if (!roster) { setMessage(T.rosterMissing, true); return false; }
    var household = byId(parseInt(match[1], 10));
    if (!household) { setMessage(T.notFound, true); return false; }
    choose(household, { card_token: token });
    return true;
  }

  function handleCode(text) {
    var code = String(text || "").trim().toUpperCase();
    if (!code) return;
    if (!roster) { setMessage(T.rosterMissing, true); return; }
    var household = byCode(code);
    if (!household) { setMessage(T.notFound, true); return; }
    choose(household, { household_code: code });
  }

  function enqueue(member) {
    if (!current) return;
    var item = {
      nonce: nonce(),
      scanned_at: new Date().toISOString(),
      member_id: member.id,
      label: member.name + " (" + current.household.code + ")"
    };
    if (current.card_token) item.card_token = current.card_token;
    else item.household_code = current.household_code;
    queue.push(item);
    save(QUEUE_KEY, queue);
    renderCount();
    showQueued(item);
    closeChooser();
    $("code").value = "";
    sync();
  }

  // --- sending the queue -------------------------------------------------------------------------

  function sync() {
    if (syncing || queue.length === 0) return Promise.resolve();
    if (navigator.onLine === false) { setOnline(false); return Promise.resolve(); }
    syncing = true;
    var sending = queue.slice(0, 200);
    var body = {
      scans: sending.map(function (item) {
        var scan = { nonce: item.nonce, scanned_at: item.scanned_at, member_id: item.member_id };
        if (item.card_token) scan.card_token = item.card_token;
        else scan.household_code = item.household_code;
        return scan;
      })
    };
    return fetch(batchUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-TOKEN": csrfToken() },
      body: JSON.stringify(body)
    })
      .then(function (r) {
        setOnline(true);
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        var done = {};
        data.results.forEach(function (result) {
          var item = sending.filter(function (i) { return i.nonce === result.nonce; })[0];
          if (item) { showResult(item, result); done[result.nonce] = true; }
        });
        // Re-read the stored queue: scans added while this request was under way must stay.
        queue = load(QUEUE_KEY, queue).filter(function (i) { return !done[i.nonce]; });
        save(QUEUE_KEY, queue);
        renderCount();
      })
      .catch(function (err) {
        if (err instanceof TypeError) setOnline(false); // the network, not the server
        else setMessage(String(err.message || err), true);
      })
      .then(function () {
        syncing = false;
        if (queue.length && navigator.onLine !== false) {
          var pending = queue.filter(function (i) { return !sending.some(function (s) { return s.nonce === i.nonce; }); });
          if (pending.length) return sync();
        }
      });
  }

  // --- the camera: BarcodeDetector where the browser has it, else the vendored jsQR ----------------
  // jsQR (57 KB compressed) is fetched only when the camera starts without a BarcodeDetector, so it
  // never holds up the page on a slow link.

  var video = $("video");
  var canvas = $("canvas");
  var detector = null;
  var stream = null;
  var decoderLoading = null;

  function loadDecoder() {
    if (window.jsQR) return Promise.resolve();
    if (!decoderLoading) {
      decoderLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = root.getAttribute("data-decoder");
        s.onload = resolve;
        s.onerror = function () { decoderLoading = null; reject(new Error("decoder")); };
        document.head.appendChild(s);
      });
    }
    return decoderLoading;
  }

  function hasDetector() { return "BarcodeDetector" in window; }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.style.display = "none";
  }

  function decodeFrame() {
    if (!stream) return Promise.resolve(null);
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    if (!window.jsQR || !video.videoWidth) return Promise.resolve(null);
    var w = video.videoWidth, h = video.videoHeight;
    canvas.width = w;
    canvas.height = h;
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    var found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
    return Promise.resolve(found ? found.data : null);
  }

  function scanLoop() {
    if (!stream) return;
    decodeFrame()
      .then(function (text) {
        if (text && $("chooser").hidden && handleCard(text)) stopCamera();
      })
      .catch(function () { /* a frame that could not be read */ })
      .then(function () { if (stream) window.setTimeout(scanLoop, 200); });
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { setMessage(T.noCamera, true); return; }
    var ready = Promise.resolve();
    if (hasDetector()) {
      ready = window.BarcodeDetector.getSupportedFormats()
        .then(function (formats) { if (formats.indexOf("qr_code") >= 0) detector = new window.BarcodeDetector({ formats: ["qr_code"] }); })
        .catch(function () { detector = null; });
    }
    ready
      .then(function () { return detector ? null : loadDecoder(); })
      .then(function () { return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }); })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.style.display = "block";
        return video.play();
      })
      .then(scanLoop)
      .catch(function () { stopCamera(); setMessage(T.noCamera, true); });
  }

  // --- wiring ------------------------------------------------------------------------------------

  $("camera").addEventListener("click", function () { if (stream) stopCamera(); else startCamera(); });
  $("code-form").addEventListener("submit", function (e) { e.preventDefault(); handleCode($("code").value); });
  $("cancel").addEventListener("click", closeChooser);
  window.addEventListener("online", function () { setOnline(true); sync(); });
  window.addEventListener("offline", function () { setOnline(false); });
  window.setInterval(function () { sync(); }, 15000);

  // Exposed for tests and for a card read by other means (e.g. a USB scanner typing into the page).
  window.meritScan = {
    handleCard: handleCard, handleCode: handleCode, sync: sync, loadDecoder: loadDecoder,
    queue: function () { return queue.slice(); }
  };

  // Keep this page and its scripts for opening it again offline (secure contexts only: https, localhost).
  var swUrl = root.getAttribute("data-sw-url");
  if (swUrl && "serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(swUrl, { scope: root.getAttribute("data-sw-scope") }).catch(function () {});
    // Once the worker controls the page it keeps what the page fetches; before that (the first visit),
    // fetch the page and its files into its cache here.
    if (window.caches && navigator.onLine !== false && !navigator.serviceWorker.controller) {
      var keep = [window.location.pathname];
      Array.prototype.forEach.call(document.querySelectorAll("script[src], link[rel=stylesheet]"), function (el) {
        keep.push(el.getAttribute("src") || el.getAttribute("href"));
      });
      window.caches.open("mb-scan-v1").then(function (cache) { return cache.addAll(keep); }).catch(function () {});
    }
  }

  // Without a BarcodeDetector the camera needs jsQR offline too: keep it, fetched once the page is up.
  function keepDecoderForOffline() {
    if (hasDetector() || !window.caches || !window.isSecureContext || navigator.onLine === false) return;
    var url = root.getAttribute("data-decoder");
    window.caches.open("mb-scan-v1")
      .then(function (cache) { return cache.match(url).then(function (kept) { return kept || cache.add(url); }); })
      .catch(function () {});
  }

  setOnline(navigator.onLine !== false);
  renderCount();
  queue.forEach(showQueued);
  root.setAttribute("data-ready", "loading");
  loadRoster().then(function () {
    root.setAttribute("data-ready", roster ? "true" : "no-roster");
    // A code sent with the form before this script ran comes back in the field: look it up now.
    if (root.getAttribute("data-typed-code")) handleCode($("code").value);
    sync();
    keepDecoderForOffline();
  });
})();
