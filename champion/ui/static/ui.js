/* champion's web UI: a little plain JavaScript for tabs, menus, dialogs, live status and uploads.
   Pages are rendered on the server; this only fetches fragments and swaps them in. */
(function () {
  "use strict";
  var FRAGMENT = { "X-Champion-Fragment": "1" };

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function toElement(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function signedOut(response) {
    // A fragment request without a session is redirected to the sign-in page: go there.
    if (response.redirected && new URL(response.url).pathname === "/") {
      window.location.assign(response.url);
      return true;
    }
    return false;
  }

  function notify(text, kind) {
    var host = document.getElementById("notifications");
    if (!host) return;
    var note = document.createElement("div");
    note.className = "toast " + (kind || "");
    var message = document.createElement("p");
    message.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { note.remove(); });
    note.appendChild(message);
    note.appendChild(close);
    host.appendChild(note);
  }

  /* -- tabs (WAI-ARIA tabs pattern: arrows move, Home/End jump) -------------------------- */
  function initTabs(root) {
    root.querySelectorAll('[role="tablist"]').forEach(function (list) {
      var tabs = Array.prototype.slice.call(list.querySelectorAll('[role="tab"]'));
      function select(tab, focus) {
        tabs.forEach(function (t) {
          var on = t === tab;
          t.setAttribute("aria-selected", on ? "true" : "false");
          t.tabIndex = on ? 0 : -1;
          document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
        });
        if (focus) tab.focus();
        var url = new URL(window.location.href);
        url.searchParams.set("tab", tab.dataset.tab);
        window.history.replaceState(null, "", url);
      }
      tabs.forEach(function (tab, index) {
        tab.addEventListener("click", function () { select(tab, false); });
        tab.addEventListener("keydown", function (event) {
          var next = null;
          if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
          if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
          if (event.key === "Home") next = tabs[0];
          if (event.key === "End") next = tabs[tabs.length - 1];
          if (next) { event.preventDefault(); select(next, true); }
        });
      });
    });
  }

  /* -- action menus (menu button pattern) ------------------------------------------------ */
  function closeMenus(except) {
    document.querySelectorAll('[aria-haspopup="menu"][aria-expanded="true"]').forEach(function (button) {
      if (button === except) return;
      button.setAttribute("aria-expanded", "false");
      document.getElementById(button.getAttribute("aria-controls")).hidden = true;
    });
  }

  function initMenus(root) {
    root.querySelectorAll('[aria-haspopup="menu"]').forEach(function (button) {
      var menu = document.getElementById(button.getAttribute("aria-controls"));
      if (!menu) return;
      var items = Array.prototype.slice.call(menu.querySelectorAll('[role="menuitem"]'));
      function open(focusIndex) {
        closeMenus(button);
        button.setAttribute("aria-expanded", "true");
        menu.hidden = false;
        items[focusIndex < 0 ? items.length - 1 : focusIndex].focus();
      }
      function close(refocus) {
        button.setAttribute("aria-expanded", "false");
        menu.hidden = true;
        if (refocus) button.focus();
      }
      button.addEventListener("click", function () {
        if (button.getAttribute("aria-expanded") === "true") close(false); else open(0);
      });
      button.addEventListener("keydown", function (event) {
        if (event.key === "ArrowDown") { event.preventDefault(); open(0); }
        if (event.key === "ArrowUp") { event.preventDefault(); open(-1); }
      });
      items.forEach(function (item, index) {
        item.addEventListener("keydown", function (event) {
          if (event.key === "ArrowDown") { event.preventDefault(); items[(index + 1) % items.length].focus(); }
          if (event.key === "ArrowUp") { event.preventDefault(); items[(index - 1 + items.length) % items.length].focus(); }
          if (event.key === "Home") { event.preventDefault(); items[0].focus(); }
          if (event.key === "End") { event.preventDefault(); items[items.length - 1].focus(); }
          if (event.key === "Escape") { event.preventDefault(); close(true); }
          if (event.key === "Tab") close(false);
        });
        item.addEventListener("click", function (event) {
          if (item.getAttribute("aria-disabled") === "true") { event.preventDefault(); return; }
          close(false);
          if (item.dataset.dialog) openDialog(item.dataset.dialog, button);
        });
      });
    });
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest(".menu")) closeMenus(null);
  });

  /* -- dialogs: fetched as fragments, shown modal, forms inside submitted with fetch ------ */
  function showDialog(dialog, opener) {
    document.getElementById("dialog-host").appendChild(dialog);
    dialog.addEventListener("close", function () {
      dialog.remove();
      if (opener && document.body.contains(opener)) opener.focus();
    });
    init(dialog);
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]");
    if (first) first.focus();
  }

  function openDialog(url, opener) {
    fetch(url, { headers: FRAGMENT, credentials: "same-origin" }).then(function (response) {
      if (signedOut(response)) return;
      return response.text().then(function (html) {
        var element = toElement(html);
        if (element && element.tagName === "DIALOG") showDialog(element, opener);
        else if (element) notify(element.textContent.trim(), "failed");
      });
    });
  }

  function swapInto(target, element) {
    if (target.tagName === "DIALOG" && element.tagName === "DIALOG") {
      var opener = null;
      target.replaceWith(element);
      init(element);
      element.addEventListener("close", function () { element.remove(); if (opener) opener.focus(); });
      element.showModal();
      return;
    }
    target.replaceWith(element);
    init(element);
  }

  function submitForm(form, submitter) {
    var data = new FormData(form, submitter);
    var action = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action");
    var busy = form.querySelectorAll("button");
    busy.forEach(function (b) { b.dataset.wasDisabled = b.disabled ? "1" : ""; b.disabled = true; });
    form.setAttribute("aria-busy", "true");
    fetch(action, { method: "POST", body: data, headers: FRAGMENT, credentials: "same-origin" })
      .then(function (response) {
        if (signedOut(response)) return;
        var location = response.headers.get("UI-Location");
        if (location) { window.location.assign(location); return; }
        return response.text().then(function (html) {
          var element = toElement(html);
          var target = form.dataset.target ? document.querySelector(form.dataset.target) : form.closest("dialog");
          if (element && target && (element.tagName === target.tagName || form.dataset.target)) {
            swapInto(target, element);
          } else if (element) {
            var slot = form.querySelector("[data-errors]");
            if (slot) { slot.innerHTML = ""; slot.appendChild(element); } else notify(element.textContent.trim(), "failed");
          }
        });
      })
      .finally(function () {
        // The form may still be on the page (its answer went elsewhere): make it usable again.
        form.removeAttribute("aria-busy");
        busy.forEach(function (b) { b.disabled = b.dataset.wasDisabled === "1"; });
      });
  }

  function initForms(root) {
    root.querySelectorAll("form[data-ajax]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitForm(form, event.submitter);
      });
    });
    root.querySelectorAll("[data-close]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("dialog").close(); });
    });
    root.querySelectorAll("button[data-dialog]:not([role=menuitem])").forEach(function (button) {
      button.addEventListener("click", function () { openDialog(button.dataset.dialog, button); });
    });
    // A changed choice invalidates the checks: validate again before replacing.
    root.querySelectorAll("[data-invalidates]").forEach(function (input) {
      input.addEventListener("change", function () { invalidate(input.form); });
    });
  }

  function invalidate(form) {
    var replace = form.querySelector("[data-needs-validation]");
    if (replace) replace.disabled = true;
    var checks = form.querySelector("[data-checks]");
    if (checks && checks.children.length) {
      checks.innerHTML = '<p class="muted">The choice changed: validate again before replacing.</p>';
    }
  }

  /* -- in-place edits on the information sheet ------------------------------------------ */
  function initToggles(root) {
    root.querySelectorAll("[data-toggle]").forEach(function (button) {
      var panel = document.getElementById(button.getAttribute("aria-controls"));
      if (!panel) return;
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", open ? "true" : "false");
        panel.hidden = !open;
        if (open) {
          var field = panel.querySelector("input, select, textarea");
          if (field) field.focus();
        }
      });
      panel.querySelectorAll("[data-cancel]").forEach(function (cancel) {
        cancel.addEventListener("click", function () {
          button.setAttribute("aria-expanded", "false");
          panel.hidden = true;
          button.focus();
        });
      });
    });
  }

  /* -- live status: poll a small fragment until the operation ends ----------------------- */
  function initPolling(root) {
    var elements = root.matches && root.matches("[data-poll]") ? [root] : [];
    root.querySelectorAll("[data-poll]").forEach(function (e) { elements.push(e); });
    elements.forEach(function (element) {
      if (element.dataset.polling) return;
      element.dataset.polling = "1";
      window.setTimeout(function () { poll(element); }, 400);
    });
  }

  function poll(element) {
    if (!document.body.contains(element)) return;
    fetch(element.dataset.poll, { headers: FRAGMENT, credentials: "same-origin" })
      .then(function (response) {
        if (signedOut(response)) return;
        return response.text().then(function (html) {
          var next = toElement(html);
          if (!next) return;
          element.replaceWith(next);
          if (next.dataset.notify) {
            notify(next.dataset.notify, next.dataset.notifyKind);
            refreshSheet();
          }
          if (next.dataset.poll) initPolling(next);
        });
      })
      .catch(function () { window.setTimeout(function () { poll(element); }, 1000); });
  }

  function refreshSheet() {
    // The operation ended: show the new asset and history without a reload (the status stays put).
    var sheet = document.getElementById("sheet-details");
    if (!sheet) return;
    fetch(window.location.pathname, { credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["sheet-details", "history"].forEach(function (id) {
          var fresh = doc.getElementById(id);
          var old = document.getElementById(id);
          if (fresh && old) { old.replaceWith(fresh); init(fresh); }
        });
      });
    });
  }

  /* -- drop zone: upload a model file with a progress bar -------------------------------- */
  function initDropZones(root) {
    root.querySelectorAll("[data-upload-url]").forEach(function (zone) {
      var input = zone.querySelector('input[type="file"]');
      var bar = zone.querySelector("progress");
      var status = zone.querySelector("[data-upload-status]");
      function upload(file) {
        var form = zone.closest("form");
        var into = form.querySelector('[name="upload_into"]').value;
        var type = form.querySelector('[name="upload_type"]').value;
        var url = zone.dataset.uploadUrl + "?into=" + encodeURIComponent(into) +
          "&type=" + encodeURIComponent(type) + "&name=" + encodeURIComponent(file.name);
        var request = new XMLHttpRequest();
        request.open("POST", url);
        request.setRequestHeader("X-CSRF-Token", csrf());
        request.setRequestHeader("X-Champion-Fragment", "1");
        request.setRequestHeader("Content-Type", "application/octet-stream");
        bar.hidden = false;
        bar.value = 0;
        status.textContent = "Uploading " + file.name + "…";
        request.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
        });
        request.addEventListener("load", function () {
          bar.value = 100;
          var element = toElement(request.responseText);
          if (request.status >= 200 && request.status < 300 && element) {
            var choice = form.querySelector("[data-asset-choice]");
            choice.replaceWith(element);
            init(element);
            invalidate(form);
            status.textContent = element.dataset.uploaded || "Uploaded.";
          } else {
            status.textContent = element ? element.textContent.trim() : "The upload failed.";
            status.classList.add("error-text");
          }
        });
        request.addEventListener("error", function () { status.textContent = "The upload failed: no answer from the server."; });
        request.send(file);
      }
      input.addEventListener("change", function () { if (input.files.length) upload(input.files[0]); });
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        if (event.dataTransfer && event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
      });
    });
  }

  function init(root) {
    // Live status first: nothing else on a page may keep a running operation from being watched.
    initPolling(root);
    initTabs(root);
    initMenus(root);
    initForms(root);
    initToggles(root);
    initDropZones(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    var opened = document.querySelector("[data-open-dialog]");
    if (opened) openDialog(opened.dataset.openDialog, null);
  });
})();

/* -- challengers: while a replay runs, ask after it; once it has ended, load the page again -------- */
(function () {
  "use strict";

  function show(element, html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    if (template.content.firstElementChild) element.replaceWith(template.content.firstElementChild);
  }

  function watchReplay(element) {
    window.setTimeout(function () {
      if (!document.body.contains(element)) return;
      fetch(element.dataset.replay, { headers: { "X-Champion-Fragment": "1" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.redirected && new URL(response.url).pathname === "/") {
            window.location.assign(response.url); // signed out meanwhile
            return;
          }
          if (!response.ok) return response.text().then(function (html) { show(element, html); });
          var ended = response.headers.get("UI-Location");
          if (!ended) { watchReplay(element); return; }
          var next = new URL(ended, window.location.href);
          var here = new URL(window.location.href);
          // Going to this page's own address (whatever its #fragment) would only scroll: load it again.
          if (next.pathname + next.search === here.pathname + here.search) window.location.reload();
          else window.location.assign(next.href);
        })
        .catch(function () { window.setTimeout(function () { watchReplay(element); }, 1000); });
    }, 500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-replay]").forEach(watchReplay);
  });
})();
