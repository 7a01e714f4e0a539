// Roster import page: check the chosen file (dry run), show every problem, then import the same file.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  var fileInput = document.getElementById("import-file");
  var village = document.getElementById("import-village");
  var checkButton = document.getElementById("import-check");
  var runButton = document.getElementById("import-run");
  var out = document.getElementById("import-result");

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function show(report, done) {
    out.innerHTML = "";
    out.appendChild(el("p", fill(out.dataset.summary, {
      rows: report.rows, "new": report.households_created, existing: report.households_existing,
      members: report.members_added, known: report.members_existing
    }), report.errors.length ? "" : "success"));
    if (report.errors.length) {
      out.appendChild(el("p", fill(out.dataset.problems, { n: report.errors.length }), "error"));
      var wrap = el("div", undefined, "table-wrap");
      var table = el("table");
      table.setAttribute("data-testid", "import-errors");
      var head = el("tr");
      [out.dataset.row, out.dataset.column, out.dataset.problem].forEach(function (t) { head.appendChild(el("th", t)); });
      table.appendChild(head);
      report.errors.forEach(function (e) {
        var tr = el("tr");
        [e.row, e.column, e.problem].forEach(function (t) { tr.appendChild(el("td", String(t))); });
        table.appendChild(tr);
      });
      wrap.appendChild(table);
      out.appendChild(wrap);
    }
    if (done) out.appendChild(el("p", out.dataset.done, "success"));
    runButton.disabled = done || report.errors.length > 0;
  }

  function send(dryRun) {
    if (!fileInput.files.length) { fileInput.reportValidity(); return; }
    var body = new FormData();
    body.append("file", fileInput.files[0]);
    var url = form.dataset.api + "?village_id=" + encodeURIComponent(village.value) + "&dry_run=" + (dryRun ? "1" : "0");
    checkButton.disabled = runButton.disabled = true;
    fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-TOKEN": cookie("csrf_access_token"), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      checkButton.disabled = false;
      if (result.status === 200) { show(result.data, !dryRun); return; }
      if (result.data && result.data.report) { show(result.data.report, false); return; }
      out.innerHTML = "";
      out.appendChild(el("p", out.dataset.failed + " " + (result.data.detail || result.status), "error"));
    }).catch(function (error) {
      checkButton.disabled = false;
      out.innerHTML = "";
      out.appendChild(el("p", out.dataset.failed + " " + error, "error"));
    });
  }

  checkButton.addEventListener("click", function () { send(true); });
  runButton.addEventListener("click", function () { send(false); });
  fileInput.addEventListener("change", function () { runButton.disabled = true; out.innerHTML = ""; });
}());
