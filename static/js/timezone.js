// Tell the server the browser's time zone, so times are shown in the viewer's own zone.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) { return; }
    var current = document.cookie.split("; ").find(function (c) { return c.indexOf("tz=") === 0; });
    if (current !== "tz=" + encodeURIComponent(zone)) {
      document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* keep the server's zone */ }
})();
