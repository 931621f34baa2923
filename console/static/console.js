// Vaultaire console: the anti-forgery header for htmx requests, and
// multipart uploads with a progress bar. Pages work without it: forms post
// normally, and the upload form falls back to a single streamed POST.
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });

  function bind(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-upload]") : [];
    for (var i = 0; i < forms.length; i++) {
      var f = forms[i];
      if (f.dataset.bound) continue;
      f.dataset.bound = "1";
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        upload(ev.currentTarget);
      });
    }
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (e) { bind(e.detail.elt); });

  function fail(r) {
    return r.json().then(function (j) { throw new Error(j.error || ("HTTP " + r.status)); },
      function () { throw new Error("HTTP " + r.status); });
  }
  function post(url, fields) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields)
    }).then(function (r) { return r.ok ? r.json() : fail(r); });
  }
  function putPart(url, blob, progress) {
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open("PUT", url);
      x.setRequestHeader("X-CSRF-Token", csrf());
      x.setRequestHeader("Accept", "application/json");
      x.upload.onprogress = function (e) { progress(e.loaded); };
      x.onload = function () {
        var j = {};
        try { j = JSON.parse(x.responseText); } catch (e) { }
        if (x.status === 200 && j.etag) resolve(j.etag);
        else reject(new Error(j.error || ("HTTP " + x.status)));
      };
      x.onerror = function () { reject(new Error("network error")); };
      x.send(blob);
    });
  }

  function upload(form) {
    var input = form.querySelector('input[type="file"]');
    var file = input && input.files[0];
    if (!file) return;
    var bucket = form.dataset.bucket;
    var prefix = form.querySelector('input[name="prefix"]').value;
    var key = prefix + file.name;
    var bar = form.querySelector("progress");
    var status = form.querySelector(".upload-status");
    var button = form.querySelector('button[type="submit"]');
    bar.hidden = false; bar.max = Math.max(file.size, 1); bar.value = 0;
    button.disabled = true;
    status.textContent = "Uploading " + key + "…";
    var base = "/buckets/" + encodeURIComponent(bucket) + "/multipart";
    var q = "?key=" + encodeURIComponent(key);
    var id = "", parts = [], done = 0;
    post(base, { key: key, content_type: file.type || "application/octet-stream", size: String(file.size) }).then(function (s) {
      id = s.upload_id;
      var size = s.part_size, n = 0;
      function next() {
        var off = n * size;
        if (n > 0 && off >= file.size) return Promise.resolve();
        n++;
        var blob = file.slice(off, Math.min(off + size, file.size));
        return putPart(base + "/" + encodeURIComponent(id) + "/parts/" + n + q, blob, function (loaded) {
          bar.value = done + loaded;
          status.textContent = Math.floor(100 * (done + loaded) / Math.max(file.size, 1)) + "% of " + key;
        }).then(function (etag) {
          parts.push({ number: n, etag: etag });
          done += blob.size;
          return next();
        });
      }
      return next();
    }).then(function () {
      return post(base + "/" + encodeURIComponent(id) + "/complete" + q, { parts: JSON.stringify(parts) });
    }).then(function () {
      bar.value = bar.max;
      status.textContent = "Uploaded " + key;
      status.dataset.done = "1";
      window.location.assign("/buckets/" + encodeURIComponent(bucket) + "?prefix=" + encodeURIComponent(prefix) + "&flash=uploaded");
    }).catch(function (e) {
      status.textContent = "Upload failed: " + e.message;
      status.dataset.failed = "1";
      button.disabled = false;
      if (id) post(base + "/" + encodeURIComponent(id) + "/abort" + q, {}).catch(function () { });
    });
  }
})();
