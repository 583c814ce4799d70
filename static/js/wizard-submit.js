// The application wizard: Submit enables as soon as every attestation is ticked, when
// nothing else is missing (the server marks the button with data-submit-when-attested).
// Without this script the boxes are saved first and the page then enables Submit.
(function () {
  function setUp() {
    var button = document.querySelector("[data-submit-when-attested]");
    if (!button || !button.form) { return; }
    var boxes = Array.prototype.slice.call(
      button.form.querySelectorAll("input[type=checkbox][name^='attests_']"));
    if (!boxes.length) { return; }
    var missing = document.getElementById("submit-missing");
    var ready = document.getElementById("submit-ready");
    function update() {
      var all = boxes.every(function (box) { return box.checked; });
      button.disabled = !all;
      button.setAttribute("aria-disabled", all ? "false" : "true");
      if (missing) { missing.hidden = all; }
      if (ready) { ready.hidden = !all; }
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
