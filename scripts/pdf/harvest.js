// Run by scripts/build_pdf.py in a page of the built HTML book, once MathJax and the widgets
// have rendered: turns the page's article into static, print-ready HTML and returns it.
// The page is thrown away afterwards, so this edits its DOM in place.
//
// arg = {k, pages: {pathname: index}, number, label}
//   k       the page's index in the table of contents (ids become `p<k>-<id>`, the page `p<k>`);
//   pages   pathname of every page of the toc -> its index (links between pages become internal);
//   number  the chapter number (null for pages without one); label: "Chapter 2", "" ...
(arg) => {
  const {k, pages} = arg;
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const prefix = (id) => `p${k}-${id}`;
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");

  // --- widgets: the default panel, its settings as text, and where the interactive version is.
  const controlSel = [
    ".widget-slider", ".widget-dropdown", ".widget-toggle-buttons", ".widget-checkbox",
    ".widget-button", ".widget-play", ".widget-text", ".widget-radio-box", ".widget-select",
    ".widget-select-multiple", ".widget-colorpicker", ".widget-datepicker", ".widget-textarea",
  ].join(",");
  const widgets = Array.from(article.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  let widgetCount = 0;
  for (const view of widgets) {
    const root = view.previousElementSibling;
    if (!root || !root.classList.contains("widget-subarea")) continue;
    widgetCount += 1;
    const settings = [];
    for (const c of root.querySelectorAll(controlSel)) {
      const label = text(c.querySelector(".widget-label"));
      let value = text(c.querySelector(".widget-readout"));
      const select = c.querySelector("select");
      if (!value && select && select.selectedOptions.length) value = text(select.selectedOptions[0]);
      const active = c.querySelector(".mod-active, button.active, .jupyter-button.mod-active");
      if (!value && active) value = text(active);
      const box = c.querySelector('input[type="checkbox"]');
      if (!value && box) value = box.checked ? "on" : "off";
      if (label && value) settings.push(`${label} = ${value}`);
    }
    root.querySelectorAll(controlSel).forEach((c) => c.remove());
    // The panel's own hint about the sliders refers to controls the page does not have.
    root.querySelectorAll(".widget-html-content span").forEach((s) => {
      if (/^Precomputed for the values on the sliders/.test(text(s))) {
        const br = s.previousElementSibling;
        if (br && br.tagName === "BR") br.remove();
        s.remove();
      }
    });
    root.querySelectorAll("canvas").forEach((c) => {
      const img = document.createElement("img");
      try { img.src = c.toDataURL("image/png"); } catch (e) { return; }
      img.style.maxWidth = "100%";
      c.replaceWith(img);
    });
    const wrap = document.createElement("div");
    wrap.className = "pdf-widget";
    const note = document.createElement("p");
    note.className = "pdf-widget-note";
    note.textContent =
      "Interactive figure: printed here at its default settings" +
      (settings.length ? ` (${settings.join(", ")})` : "") +
      ". Its controls move it in the HTML book, and over the full range in JupyterLab (make lab).";
    root.replaceWith(wrap);
    wrap.appendChild(root);
    wrap.appendChild(note);
  }

  // --- exercises: numeric answer boxes print as blank boxes; solutions go to the chapter's end.
  article.querySelectorAll("input, textarea, select").forEach((input) => {
    const box = document.createElement("span");
    box.className = "pdf-answer-box";
    box.setAttribute("aria-label", "answer");
    input.replaceWith(box);
  });
  article.querySelectorAll("button").forEach((b) => b.remove());
  article.querySelectorAll("details").forEach((d) => { d.open = true; });
  const solutions = Array.from(article.querySelectorAll(".tag_solution, .pdf-solution-source"))
    .filter((el, i, all) => !all.some((other) => other !== el && other.contains(el)));
  if (solutions.length) {
    const section = document.createElement("section");
    section.className = "pdf-solutions";
    section.id = "pdf-solutions";
    const h = document.createElement("h2");
    h.textContent = "Solutions to the exercises";
    section.appendChild(h);
    // A solution is named after its exercise: the last "Exercise N.k" (a heading or a bold lead-in)
    // before it, else the last heading before it.
    const marks = Array.from(article.querySelectorAll("h2, h3, h4, strong, b, .admonition-title"));
    const before = (el, sol) => (el.compareDocumentPosition(sol) & Node.DOCUMENT_POSITION_FOLLOWING) && !el.contains(sol);
    solutions.forEach((sol, i) => {
      let exercise = "", heading = "";
      for (const el of marks) {
        if (!before(el, sol)) continue;
        const t = text(el).replace(/#$/, "").trim();
        const m = t.match(/^Exercise\s+\d+(\.\d+)*/);
        if (m) exercise = m[0];
        if (/^H\d$/.test(el.tagName)) heading = t;
      }
      const title = exercise ? `Solution to ${exercise}` : `Solution ${i + 1}` + (heading ? `: ${heading}` : "");
      const id = `pdf-solution-${i + 1}`;
      const ref = document.createElement("p");
      ref.className = "pdf-solution-ref";
      ref.innerHTML = `Solution: <a href="#${id}">at the end of the chapter</a>.`;
      const back = document.createElement("a");
      back.href = `#pdf-solution-ref-${i + 1}`;
      ref.id = `pdf-solution-ref-${i + 1}`;
      sol.replaceWith(ref);
      const item = document.createElement("div");
      item.className = "pdf-solution";
      item.id = id;
      const t = document.createElement("p");
      t.className = "pdf-solution-title";
      t.appendChild(document.createTextNode(`${title} `));
      back.textContent = "(back to the exercise)";
      t.appendChild(back);
      item.appendChild(t);
      item.appendChild(sol);
      section.appendChild(item);
    });
    (article.querySelector("section") || article).appendChild(section);
  }

  // --- what only the screen needs.
  article.querySelectorAll(
    "script, a.headerlink, .copybtn, .toggle-button, .toctree-wrapper:empty, .pst-js-only, .d-print-none"
  ).forEach((el) => el.remove());

  // --- images keep working from another address: absolute sources.
  article.querySelectorAll("img").forEach((img) => { if (img.src) img.setAttribute("src", img.src); });

  // --- ids unique in the book, links between pages internal.
  for (const el of article.querySelectorAll("[id]")) {
    if (el.closest("svg, mjx-container")) continue;
    el.id = prefix(el.id);
  }
  let internal = 0, dropped = 0;
  for (const a of article.querySelectorAll("a[href]")) {
    if (a.closest("svg")) continue;
    const href = a.getAttribute("href");
    let url;
    try { url = new URL(href, location.href); } catch (e) { continue; }
    if (url.origin !== location.origin) { a.setAttribute("href", url.href); continue; }
    const target = pages[url.pathname];
    if (target === undefined) {  // a local file that is not a page of the book (sources, index)
      a.replaceWith(...a.childNodes);
      dropped += 1;
      continue;
    }
    // A short reference ("Proposition 2", "(5)", "Figure 2.1") never breaks across lines.
    if (text(a).length <= 24) a.classList.add("pdf-nowrap");
    const frag = decodeURIComponent(url.hash.replace(/^#/, ""));
    a.setAttribute("href", frag ? `#p${target}-${frag}` : `#p${target}`);
    internal += 1;
  }

  // --- what the contents and the outline need.
  const h1 = article.querySelector("h1");
  const sections = Array.from(article.querySelectorAll("h2"))
    .filter((h) => h.closest("section[id]") && !h.closest(".pdf-solutions, .admonition, .proof"))
    .map((h) => ({id: h.closest("section[id]").id, title: text(h)}));
  const solutionsSection = article.querySelector(".pdf-solutions");
  if (solutionsSection) sections.push({id: solutionsSection.id, title: "Solutions to the exercises"});
  return {
    title: text(h1),
    h1_id: h1 && h1.closest("section[id]") ? h1.closest("section[id]").id : null,
    sections,
    html: article.innerHTML,
    widgets: widgetCount,
    solutions: solutions.length,
    internal_links: internal,
    dropped_links: dropped,
  };
}
