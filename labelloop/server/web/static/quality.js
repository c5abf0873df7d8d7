// The quality page: sortable annotator table, and for managers the label-error scan and the gold
// items panel. The figures themselves are rendered by the server. Text reaches the DOM via
// textContent only.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const pageData = $("page-data");
  const page = pageData ? JSON.parse(pageData.textContent) : {};
  const { api, newestOnly, node, say, valueText } = window.labelloop;
  const base = "/api/projects/" + encodeURIComponent(page.slug || "");

  // ---------------------------------------------------------------- sortable annotator table

  /** A cell as it sorts: a number, else its text; null for an empty one ("—"). */
  function cellValue(td) {
    const text = (td.textContent || "").trim();
    if (!text || text === "—" || text === "–") return null;
    const n = parseFloat(text.replace(/[,%]/g, ""));
    return Number.isNaN(n) ? text.toLowerCase() : n;
  }

  /** Numbers before texts, each in order; empty cells last whichever way the column sorts,
   * and rows that tie keep their order (the sort is stable). */
  function compareCells(x, y, up) {
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    let order;
    if (typeof x !== typeof y) order = typeof x === "number" ? -1 : 1;
    else order = typeof x === "number" ? x - y : x.localeCompare(y);
    return up ? order : -order;
  }

  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
    heads.forEach((th, col) => {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      th.classList.add("sort-head");
      const sort = () => {
        const up = th.getAttribute("aria-sort") !== "ascending";
        for (const h of heads) h.setAttribute("aria-sort", "none");
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows).filter((r) => r.cells.length === heads.length);
        rows.sort((a, b) => compareCells(cellValue(a.cells[col]), cellValue(b.cells[col]), up));
        body.append(...rows);
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          sort();
        }
      });
    });
  }

  if (!page.can_manage) return;

  // ---------------------------------------------------------------- the label-error scan

  const scanBtn = $("scan-btn");
  if (scanBtn) {
    scanBtn.addEventListener("click", async () => {
      const out = $("scan-result");
      scanBtn.disabled = true;
      out.textContent = "Scanning…";
      try {
        const r = await api("POST", base + "/quality/scan");
        out.textContent = r.reason
          ? `Checked ${r.checked} labels: ${r.reason}.`
          : `Checked ${r.checked} labels; ${r.flagged} new likely label errors flagged` +
            (r.closed ? `; ${r.closed} open label issues closed (the model now agrees with their labels)` : "") +
            ". Reload to see the counts.";
      } catch (err) {
        out.textContent = String(err.detail || err.message);
      } finally {
        scanBtn.disabled = false;
      }
    });
  }

  // ---------------------------------------------------------------- gold items

  const goldTable = $("gold-table");
  const goldForm = $("gold-form");
  const goldResult = $("gold-result");

  function labelOf(value) {
    return valueText(value ? value[page.target] : null, undefined, page.target_type);
  }

  // Two gold items removed (or one added beside) close together each fetch the list: only the
  // newest answer is drawn, or the older one would list again an item no longer gold.
  const goldAsked = newestOnly();
  async function loadGold() {
    if (!goldTable) return;
    const body = goldTable.tBodies[0];
    const newest = goldAsked();
    let rows;
    try {
      rows = (await api("GET", base + "/gold")).gold;
      if (!newest()) return;
    } catch (err) {
      if (!newest()) return;
      say(goldResult, "error", String(err.detail || err.message));
      return;
    }
    body.replaceChildren();
    for (const g of rows) {
      const tr = document.createElement("tr");
      tr.dataset.itemId = String(g.item_id);
      const cells = [
        g.external_id || "#" + g.item_id,
        g.text.length > 80 ? g.text.slice(0, 77) + "…" : g.text,
        labelOf(g.value),
        String(g.answered),
      ];
      for (const c of cells) {
        const td = document.createElement("td");
        td.textContent = c;
        tr.append(td);
      }
      const td = document.createElement("td");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-quiet btn-small";
      remove.textContent = "Remove";
      remove.addEventListener("click", async () => {
        try {
          await api("DELETE", `${base}/gold/${g.item_id}`);
          await loadGold();
        } catch (err) {
          say(goldResult, "error", String(err.detail || err.message));
        }
      });
      td.append(remove);
      tr.append(td);
      body.append(tr);
    }
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 5;
      td.className = "muted";
      td.textContent = "No gold items yet.";
      tr.append(td);
      body.append(tr);
    }
  }

  if (goldForm) {
    goldForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const raw = $("gold-item").value.trim();
      const label = $("gold-label").value;
      const ref = /^#\d+$/.test(raw) ? { item_id: Number(raw.slice(1)) } : { external_id: raw };
      // Spans and boxes are no name to pick: the item's own label is its known answer.
      const value = page.regions ? null : { [page.target]: page.multi ? [label] : label };
      try {
        const r = await api("PUT", base + "/gold", { ...ref, value });
        const item = node("span", "", r.external_id || "#" + r.item_id); // isolated: see app.css
        say(goldResult, "info", ["Item ", item, ` is gold: ${labelOf(r.value)}.`]);
        $("gold-item").value = "";
        await loadGold();
      } catch (err) {
        say(goldResult, "error", String(err.detail || err.message));
      }
    });
  }

  loadGold();
})();
