// Service worker of the clerk's card scanner: keeps the scan page and its scripts so that the page
// opens again with no connection (weak village signal). Served from /events/scan-sw.js, so it only
// controls pages under /events/. Only GETs of the scan pages and static files are cached; every API
// call goes to the network, and scans wait in the page's own queue until it is back.
"use strict";
var CACHE = "mb-scan-v1";
var SCAN_PAGE = /^\/events\/\d+\/scan$/;

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("mb-scan-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (!SCAN_PAGE.test(url.pathname) && url.pathname.indexOf("/static/") !== 0) return;
  // Network first (a fresh page when there is signal), the kept copy when there is none.
  event.respondWith(
    fetch(request)
      .then(function (response) {
        if (response.ok && !response.redirected) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      })
      .catch(function () {
        return caches.match(request, { ignoreSearch: true }).then(function (kept) { return kept || Response.error(); });
      })
  );
});
