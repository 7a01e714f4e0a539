/* The shop counter: identify a household (camera or typed code), tap goods, confirm once.
 *
 * The Idempotency-Key is made when the cart opens and kept until the server gives a definite answer,
 * so a double tap, or a retry after a dropped connection, can never charge a household twice.
 * Cameras work only on https:// or localhost (a browser rule); otherwise the code field is the way.
 */
(function () {
  "use strict";

  var root = document.getElementById("counter");
  if (!root) return;
  var catalogue = JSON.parse(document.getElementById("catalogue").textContent);
  var t = JSON.parse(document.getElementById("i18n").textContent);
  var byId = {};
  catalogue.forEach(function (i) { byId[i.id] = i; });

  var state = {
    customer: null,   // {household_id, head_name, code, balance, limits}
    cart: {},         // item id -> quantity
    key: null,        // Idempotency-Key of this cart
    sending: false,
    uncertain: false  // a request went out and no answer came back: the cart is frozen until it does
  };

  function $(id) { return document.getElementById(id); }
  function fmt(text, n) { return text.replace("{n}", n); }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrf_access_token=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function newKey() {
    // getRandomValues works on plain http too (randomUUID needs a secure context).
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "cart-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function post(url, body, headers) {
    var h = { "Content-Type": "application/json", "X-CSRF-TOKEN": csrfToken() };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: "POST", credentials: "same-origin", headers: h, body: JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          return { status: r.status, ok: r.ok, data: data };
        });
      });
  }

  function showMessage(text) {
    var m = $("message");
    m.textContent = text || "";
    m.classList.toggle("hidden", !text);
  }

  // --- step 1: who is it ------------------------------------------------------------------------

  function lookup(body) {
    showMessage("");
    return post(root.dataset.lookup, body).then(function (res) {
      if (!res.ok) {
        var text = res.status === 404 ? t.not_found : res.status === 400 ? t.bad_card : (res.data.detail || res.status);
        alertIdentify(text);
        return;
      }
      openCart(res.data);
    }, function () { alertIdentify(t.network); });
  }

  function alertIdentify(text) {
    var p = $("identify-error");
    if (!p) {
      p = document.createElement("p");
      p.id = "identify-error";
      p.className = "error";
      p.setAttribute("role", "alert");
      p.setAttribute("data-testid", "identify-error");
      $("step-identify").appendChild(p);
    }
    p.textContent = text;
  }

  $("code-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var code = $("code").value.trim().toUpperCase();
    if (code) lookup({ code: code });
  });

  // --- the camera -------------------------------------------------------------------------------

  var stream = null;
  var scanning = false;
  var detector = null;
  var canvas = document.createElement("canvas");

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = root.dataset.decoder;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function chooseDecoder() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") >= 0) {
          detector = new window.BarcodeDetector({ formats: ["qr_code"] });
          return;
        }
        return loadJsQR();
      }, loadJsQR);
    }
    return loadJsQR();
  }

  function decodeFrame(video) {
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    var w = video.videoWidth, h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    var scale = Math.min(1, 800 / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    return Promise.resolve(found ? found.data : null);
  }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      alertIdentify(t.no_camera);
      return;
    }
    var video = $("video");
    chooseDecoder().then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      $("scanner").classList.remove("hidden");
      $("scan").classList.add("hidden");
      return video.play();
    }).then(function () {
      scanning = true;
      loop(video);
    }).catch(function () {
      stopCamera();
      alertIdentify(window.jsQR || detector ? t.no_camera : t.no_decoder);
    });
  }

  function loop(video) {
    if (!scanning) return;
    decodeFrame(video).then(function (text) {
      if (!scanning) return;
      if (text) {
        stopCamera();
        lookup({ card_token: text.trim() });
        return;
      }
      setTimeout(function () { loop(video); }, 120);
    }, function () { setTimeout(function () { loop(video); }, 250); });
  }

  function stopCamera() {
    scanning = false;
    if (stream) stream.getTracks().forEach(function (tr) { tr.stop(); });
    stream = null;
    $("scanner").classList.add("hidden");
    $("scan").classList.remove("hidden");
  }

  $("scan").addEventListener("click", startCamera);
  $("scan-stop").addEventListener("click", stopCamera);

  // --- step 2: the cart -------------------------------------------------------------------------

  function openCart(customer) {
    state.customer = customer;
    state.cart = {};
    state.key = newKey();
    state.uncertain = false;
    $("c-name").textContent = customer.head_name;
    $("c-code").textContent = customer.code;
    $("c-balance").textContent = customer.balance;
    $("step-identify").classList.add("hidden");
    $("step-cart").classList.remove("hidden");
    var err = $("identify-error");
    if (err) err.textContent = "";
    render();
  }

  function remaining(itemId) {
    var limits = (state.customer && state.customer.limits) || [];
    for (var i = 0; i < limits.length; i++) {
      if (limits[i].item_id === itemId) return limits[i].remaining;
    }
    return null;
  }

  function total() {
    return Object.keys(state.cart).reduce(function (sum, id) { return sum + byId[id].price * state.cart[id]; }, 0);
  }

  function change(itemId, delta) {
    if (state.sending || state.uncertain) return;
    var item = byId[itemId];
    var q = (state.cart[itemId] || 0) + delta;
    var left = remaining(item.id);
    if (q < 0 || q > item.stock || (left !== null && q > left)) return;
    if (q === 0) delete state.cart[itemId]; else state.cart[itemId] = q;
    showMessage("");
    render();
  }

  function render() {
    var cart = $("cart");
    cart.innerHTML = "";
    Object.keys(state.cart).forEach(function (id) {
      var item = byId[id];
      var line = document.createElement("div");
      line.className = "cart-line";
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = item.name + " × " + state.cart[id] + " = " + item.price * state.cart[id];
      var minus = document.createElement("button");
      minus.type = "button"; minus.className = "secondary"; minus.textContent = "−";
      minus.setAttribute("aria-label", t.remove);
      minus.addEventListener("click", function () { change(item.id, -1); });
      var plus = document.createElement("button");
      plus.type = "button"; plus.textContent = "+";
      plus.setAttribute("aria-label", t.add);
      plus.addEventListener("click", function () { change(item.id, 1); });
      line.appendChild(name); line.appendChild(minus); line.appendChild(plus);
      cart.appendChild(line);
    });
    document.querySelectorAll("button.item").forEach(function (b) {
      var id = b.dataset.item, item = byId[id], q = state.cart[id] || 0, left = remaining(item.id);
      var n = b.querySelector(".n");
      n.textContent = q; n.classList.toggle("hidden", !q);
      var lim = b.querySelector(".limit");
      if (lim) lim.textContent = left === null ? "" : fmt(t.limit_left, left);
      b.disabled = state.sending || state.uncertain || q >= item.stock || (left !== null && q >= left);
    });
    var sum = total();
    $("total").textContent = sum;
    var balance = state.customer ? state.customer.balance : 0;
    $("after").textContent = sum ? (sum > balance ? t.over_balance : fmt(t.after, balance - sum)) : "";
    $("confirm").disabled = state.sending || !sum || sum > balance;
    $("confirm").textContent = state.sending ? t.sending : state.uncertain ? t.retry : t.confirm;
  }

  document.querySelectorAll("button.item").forEach(function (b) {
    b.addEventListener("click", function () { change(Number(b.dataset.item), 1); });
  });

  $("confirm").addEventListener("click", function () {
    if (state.sending || !state.customer) return;  // a double tap lands here and does nothing
    state.sending = true;
    render();
    var body = {
      shop_id: Number(root.dataset.shopId),
      household_id: state.customer.household_id,
      lines: Object.keys(state.cart).sort().map(function (id) { return { item_id: Number(id), quantity: state.cart[id] }; })
    };
    post(root.dataset.api, body, { "Idempotency-Key": state.key }).then(function (res) {
      state.sending = false;
      state.uncertain = false;
      if (res.status === 201) {
        window.location.assign(res.data.receipt_url + "?new=1");
        return;
      }
      // A definite refusal stored nothing: a fresh key lets the shopkeeper fix the cart and try again.
      state.key = newKey();
      var detail = res.data.detail || res.data.title || String(res.status);
      if (res.data.type === "insufficient-balance" && typeof res.data.balance === "number") {
        state.customer.balance = res.data.balance;
        $("c-balance").textContent = res.data.balance;
      }
      showMessage(detail);
      render();
    }, function () {
      // No answer: it may or may not have gone through. Keep the key and the cart, so the retry is safe.
      state.sending = false;
      state.uncertain = true;
      showMessage(t.network);
      render();
    });
  });

  $("cancel").addEventListener("click", function () {
    // Not reload(): after the code form's post that would post it again.
    window.location.assign(window.location.pathname);
  });

  // A code sent with the form before this script ran comes back in the field: look it up now.
  if (root.dataset.typedCode && $("code").value.trim()) lookup({ code: $("code").value.trim().toUpperCase() });
})();
