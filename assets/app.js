// commonpot: small improvements on top of pages that work without it.
// The approval ballot's running total updates as boxes are ticked; the
// server checks the ballot again whatever this shows.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var ballot = document.querySelector("[data-ballot]");
  if (!ballot) return;
  var out = ballot.querySelector("[data-running-total]");
  if (!out) return;
  var maxCount = parseInt(ballot.getAttribute("data-max-count") || "0", 10);
  var maxCost = parseInt(ballot.getAttribute("data-max-cost-minor") || "0", 10);
  var points = parseInt(ballot.getAttribute("data-points") || "0", 10);
  function update() {
    var count = 0, cost = 0, used = 0;
    ballot.querySelectorAll("input[type=checkbox][data-cost-minor]").forEach(function (box) {
      if (box.checked) { count += 1; cost += parseInt(box.getAttribute("data-cost-minor"), 10); }
    });
    ballot.querySelectorAll("input[data-points]").forEach(function (input) {
      var n = parseInt(input.value || "0", 10);
      if (n > 0) used += n;
    });
    var over = (maxCount > 0 && count > maxCount) || (maxCost > 0 && cost > maxCost) || (points > 0 && used > points);
    out.textContent = ballot.getAttribute("data-kind") === "cumulative"
      ? used + " of " + points + " points used"
      : count + " chosen, " + formatMinor(cost) + (maxCost > 0 ? " of " + formatMinor(maxCost) : "");
    out.classList.toggle("over", over);
  }
  function formatMinor(minor) {
    var exp = parseInt(ballot.getAttribute("data-exponent") || "2", 10);
    var sym = ballot.getAttribute("data-symbol") || "";
    var s = String(minor);
    while (s.length <= exp) s = "0" + s;
    var whole = exp > 0 ? s.slice(0, s.length - exp) : s;
    var frac = exp > 0 ? "." + s.slice(s.length - exp) : "";
    return sym + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + frac;
  }
  ballot.addEventListener("input", update);
  ballot.addEventListener("change", update);
  update();
});
