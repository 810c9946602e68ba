// DOM helpers. Every string that reaches the page goes through textContent or an attribute
// setter: nothing here (or anywhere in the console) assigns innerHTML.

type Child = Node | string | number | null | undefined | false;
type Attrs = { [name: string]: string | number | boolean | null | undefined | ((ev: Event) => void) };

const SVG_NS = "http://www.w3.org/2000/svg";

function appendChildren(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

function setAttrs(e: Element, attrs: Attrs | null): void {
  if (!attrs) return;
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") {
      e.addEventListener(k.replace(/^on/, ""), v);
    } else if (k === "testid") {
      e.setAttribute("data-testid", String(v));
    } else if (k === "className") {
      e.setAttribute("class", String(v));
    } else {
      e.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

/** Creates an HTML element: el("td", {testid: "x"}, "text", otherNode). */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  setAttrs(e, attrs || null);
  appendChildren(e, children);
  return e;
}

/** Creates an SVG element. */
function svg(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const e = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttrs(e, attrs || null);
  appendChildren(e, children);
  return e;
}

/** A link to a console route (hash). */
function link(route: string, text: string, testid?: string): HTMLAnchorElement {
  return el("a", { href: "#" + route, testid: testid }, text);
}

/** A table: headers, then rows of cells (strings/nodes); each row's attributes from rowAttrs. */
function table(testid: string, headers: string[], rows: { attrs: Attrs; cells: { testid?: string; className?: string; value: Child }[] }[], empty: string): HTMLElement {
  // a column whose cells are numbers gets a right-aligned header too
  const numeric = (i: number) => rows.length > 0 && /\bnum\b/.test(rows[0].cells[i] && rows[0].cells[i].className || "");
  const thead = el("thead", null, el("tr", null, ...headers.map((h, i) => el("th", { className: numeric(i) ? "num" : null }, h))));
  const tbody = el("tbody");
  for (const r of rows) {
    const tr = el("tr", r.attrs);
    for (const c of r.cells) tr.appendChild(el("td", { testid: c.testid, className: c.className }, c.value));
    tbody.appendChild(tr);
  }
  if (rows.length === 0) {
    tbody.appendChild(el("tr", { className: "empty" }, el("td", { colspan: headers.length, testid: testid + "-empty" }, empty)));
  }
  return el("table", { testid: testid }, thead, tbody);
}

/** A definition list of label/value pairs, each value with its testid. */
function facts(items: [string, Child, string][]): HTMLElement {
  const dl = el("dl", { className: "facts" });
  for (const [label, value, testid] of items) {
    dl.appendChild(el("dt", null, label));
    dl.appendChild(el("dd", { testid: testid }, value));
  }
  return dl;
}

function errorBox(message: string): HTMLElement {
  return el("div", { className: "error", testid: "error", role: "alert" }, message);
}
