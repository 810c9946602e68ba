// Hash router: #/route?query. Renders the matching page into <main>, marks the nav link, and
// re-renders every 2 s the pages that refresh (overview, groups, a group). A page that fails shows
// the error (the broker's {"error": ...} text) instead of its content, never a blank page.

interface Route {
  pattern: RegExp;
  nav: string;
  title: (params: string[]) => string;
  render: (ctx: PageCtx) => Promise<Node>;
  refresh: boolean;
}

const REFRESH_MS = 2000;

const routes: Route[] = [
  { pattern: /^\/?$/, nav: "overview", title: () => "Overview", render: renderOverview, refresh: true },
  { pattern: /^\/topics\/?$/, nav: "topics", title: () => "Topics", render: renderTopics, refresh: false },
  { pattern: /^\/topics\/([^/]+)\/messages\/?$/, nav: "topics", title: (p) => p[0] + " messages", render: renderMessages, refresh: false },
  { pattern: /^\/topics\/([^/]+)\/?$/, nav: "topics", title: (p) => p[0], render: renderTopic, refresh: false },
  { pattern: /^\/groups\/?$/, nav: "groups", title: () => "Consumer groups", render: renderGroups, refresh: true },
  { pattern: /^\/groups\/([^/]+)\/?$/, nav: "groups", title: (p) => p[0], render: renderGroup, refresh: true },
  { pattern: /^\/transactions\/?$/, nav: "transactions", title: () => "Transactions", render: renderTransactions, refresh: false },
  { pattern: /^\/configs\/?$/, nav: "configs", title: () => "Broker configs", render: renderConfigs, refresh: false },
];

let generation = 0;
let refreshTimer: number | undefined;

function mainEl(): HTMLElement {
  return document.getElementById("main") as HTMLElement;
}

function setStatus(text: string, testid: string): void {
  const s = document.getElementById("status");
  if (!s) return;
  s.textContent = text;
  s.setAttribute("data-state", testid);
}

function markNav(nav: string): void {
  for (const a of Array.from(document.querySelectorAll("nav a[data-nav]"))) {
    a.classList.toggle("active", a.getAttribute("data-nav") === nav);
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (_) {
    return s;
  }
}

async function route(): Promise<void> {
  const gen = ++generation;
  if (refreshTimer !== undefined) { window.clearTimeout(refreshTimer); refreshTimer = undefined; }
  const hash = location.hash.replace(/^#/, "") || "/";
  const qi = hash.indexOf("?");
  const path = qi >= 0 ? hash.slice(0, qi) : hash;
  const query = new URLSearchParams(qi >= 0 ? hash.slice(qi + 1) : "");
  const main = mainEl();
  let found: Route | null = null;
  let params: string[] = [];
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (m) { found = r; params = m.slice(1).map(decodeSegment); break; }
  }
  if (!found) {
    markNav("");
    document.title = "Not found · Odradek";
    main.replaceChildren(el("section", { testid: "page-notfound" }, el("h1", { testid: "page-title" }, "Not found"),
      errorBox("no console page at #" + path), el("p", null, link("/", "Back to the overview"))));
    main.setAttribute("data-loaded", "error");
    return;
  }
  const r = found;
  markNav(r.nav);
  document.title = r.title(params) + " · Odradek";
  main.setAttribute("data-loaded", "loading");
  main.replaceChildren(el("p", { className: "loading", testid: "loading" }, "Loading…"));
  const ctx: PageCtx = { params, query, navigate: (to: string) => { location.hash = "#" + to; } };
  const once = async (first: boolean) => {
    let node: Node;
    let ok = true;
    try {
      node = await r.render(ctx);
    } catch (e) {
      ok = false;
      const msg = e instanceof Error ? e.message : String(e);
      node = el("section", { testid: "page-error" }, el("h1", { testid: "page-title" }, r.title(params)), errorBox(msg),
        r.nav !== "overview" ? el("p", null, link("/" + r.nav, "← all " + r.nav, "back-link")) : null);
    }
    if (gen !== generation) return;
    // a failed refresh keeps the page it had and shows the error above it
    if (!ok && !first && main.getAttribute("data-loaded") === "ok") {
      const old = main.querySelector(".refresh-error");
      const box = errorBox("refresh failed: " + ((node as HTMLElement).querySelector(".error") || node).textContent);
      box.classList.add("refresh-error");
      if (old) old.replaceWith(box); else main.prepend(box);
      setStatus("refresh failed", "error");
    } else {
      main.replaceChildren(node);
      main.setAttribute("data-loaded", ok ? "ok" : "error");
      setStatus(ok ? "updated " + fmtClock(Date.now()) : "error", ok ? "ok" : "error");
    }
    if (r.refresh && gen === generation) {
      refreshTimer = window.setTimeout(() => { void once(false); }, REFRESH_MS);
    }
  };
  await once(true);
}

window.addEventListener("hashchange", () => { void route(); });
window.addEventListener("DOMContentLoaded", () => { void route(); });
