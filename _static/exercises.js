/* The answer boxes of the numeric exercises (incidental.exercises): when the book was built, the
   library wrote the right value and the chapter's tolerance into each box's data attributes
   (data-answer, data-atol, data-rtol). This script says right or wrong in the page, offline, with
   no kernel. Jupyter Book loads every .js file of _static on every page. */
(function () {
  "use strict";

  var NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

  /* A typed number: 0.25, -1.5e-3, 1/4 (a ratio of two numbers); a Unicode minus is accepted. */
  function parse(text) {
    var s = String(text).trim().replace(/\u2212/g, "-").replace(/\s+/g, "");
    var parts = s.split("/");
    if (parts.length === 2 && NUMBER.test(parts[0]) && NUMBER.test(parts[1])) {
      return parseFloat(parts[0]) / parseFloat(parts[1]);
    }
    return NUMBER.test(s) ? parseFloat(s) : NaN;
  }

  function judge(box) {
    var input = box.querySelector(".exercise-input");
    var out = box.querySelector(".exercise-feedback");
    var want = parseFloat(box.dataset.answer);
    var tol = parseFloat(box.dataset.atol) + parseFloat(box.dataset.rtol) * Math.abs(want);
    var x = parse(input.value);
    box.classList.remove("exercise-right", "exercise-wrong");
    if (!isFinite(x)) {
      out.textContent = "Type a number (for example 0.25, 1e-3 or 1/4).";
      return;
    }
    if (Math.abs(x - want) <= tol) {
      out.textContent = "Right: within the tolerance of the chapter's check.";
      box.classList.add("exercise-right");
    } else {
      out.textContent = "Not yet: " + (x > want ? "too large" : "too small") + ", beyond the check's tolerance.";
      box.classList.add("exercise-wrong");
    }
  }

  function wire() {
    document.querySelectorAll(".exercise-box").forEach(function (box) {
      if (box.dataset.wired) return;
      box.dataset.wired = "1";
      box.querySelector(".exercise-submit").addEventListener("click", function () { judge(box); });
      box.querySelector(".exercise-input").addEventListener("keydown", function (event) {
        if (event.key === "Enter") judge(box);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
