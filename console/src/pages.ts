// The console's pages. Each renders the whole page content as a fresh node; the router
// (main.ts) swaps it in, and re-renders every 2 s the pages that refresh.

interface PageCtx {
  params: string[];                 // decoded path segments matched by the route
  query: URLSearchParams;           // the hash's ?query
  navigate: (route: string) => void;
}

function heading(text: string, testid: string, ...extra: Child[]): HTMLElement {
  return el("div", { className: "page-head" }, el("h1", { testid: testid }, text), ...extra);
}

// --- #/ ---------------------------------------------------------------------------------

async function renderOverview(_ctx: PageCtx): Promise<Node> {
  const [ov, tp] = await Promise.all([api<Overview>("overview"), api<Throughput>("throughput")]);
  const page = el("section", { testid: "page-overview" });
  page.appendChild(heading("Overview", "page-title"));
  page.appendChild(facts([
    ["Cluster id", ov.cluster_id, "cluster-id"],
    ["Node id", fmtInt(ov.node_id), "node-id"],
    ["Version", ov.version, "version"],
    ["Uptime", fmtDuration(ov.uptime_ms), "uptime"],
  ]));
  const counts = el("div", { className: "counts" });
  const count = (label: string, n: number, testid: string, route: string) =>
    el("a", { className: "count", href: "#" + route, testid: testid },
      el("span", { className: "count-n", testid: testid + "-n" }, fmtInt(n)), el("span", { className: "count-label" }, label));
  counts.appendChild(count("topics", ov.topics, "count-topics", "/topics"));
  counts.appendChild(count("partitions", ov.partitions, "count-partitions", "/topics"));
  counts.appendChild(count("groups", ov.groups, "count-groups", "/groups"));
  counts.appendChild(count("transactions", ov.transactions, "count-transactions", "/transactions"));
  page.appendChild(counts);

  page.appendChild(el("h2", null, "Listeners"));
  page.appendChild(table("listeners-table", ["Name", "Protocol", "Address", "Connections"],
    ov.listeners.map((l) => ({
      attrs: { testid: "listener-row", "data-listener": l.name },
      cells: [{ value: l.name }, { value: l.protocol }, { value: l.address, testid: "listener-address" },
        { value: fmtInt(l.connections), className: "num", testid: "listener-connections" }],
    })), "no listeners"));

  page.appendChild(el("h2", null, "Throughput"));
  const s = tp.samples;
  page.appendChild(lineChart("chart-bytes", "bytes per second", [
    { name: "in", className: "s-in", points: s.map((x) => [x.t_ms, x.bytes_in]) },
    { name: "out", className: "s-out", points: s.map((x) => [x.t_ms, x.bytes_out]) },
  ], (v) => fmtBytes(v) + "/s"));
  page.appendChild(lineChart("chart-messages", "messages per second", [
    { name: "in", className: "s-in", points: s.map((x) => [x.t_ms, x.messages_in]) },
    { name: "out", className: "s-out", points: s.map((x) => [x.t_ms, x.messages_out]) },
  ], (v) => fmtRate(v) + "/s"));
  page.appendChild(el("p", { className: "hint" },
    "Rates over " + fmtDuration(tp.interval_ms) + " intervals, " + s.length + " samples; refreshed every 2 s."));
  return page;
}

// --- #/topics -----------------------------------------------------------------------------

let showInternalTopics = false;

async function renderTopics(_ctx: PageCtx): Promise<Node> {
  const topics = (await api<TopicSummary[]>("topics")).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = el("section", { testid: "page-topics" });
  const holder = el("div");
  const draw = () => {
    const shown = topics.filter((t) => showInternalTopics || !t.internal);
    holder.replaceChildren(table("topics-table", ["Name", "Partitions", "Records", "Size", "Cleanup policy"],
      shown.map((t) => ({
        attrs: { testid: "topic-row", "data-topic": t.name, className: t.internal ? "internal" : null },
        cells: [
          { value: el("span", null, link("/topics/" + enc(t.name), t.name, "topic-link"), t.internal ? el("span", { className: "tag" }, "internal") : null), testid: "topic-name" },
          { value: fmtInt(t.partitions), className: "num", testid: "topic-partitions" },
          { value: fmtInt(t.records), className: "num", testid: "topic-records" },
          { value: fmtBytes(t.size_bytes), className: "num", testid: "topic-size" },
          { value: t.cleanup_policy, testid: "topic-cleanup" },
        ],
      })), showInternalTopics ? "no topics" : "no topics (internal topics hidden)"));
  };
  const internalCount = topics.filter((t) => t.internal).length;
  const box = el("input", { type: "checkbox", testid: "show-internal", id: "show-internal" });
  box.checked = showInternalTopics;
  box.addEventListener("change", () => { showInternalTopics = box.checked; draw(); });
  page.appendChild(heading("Topics", "page-title",
    el("label", { className: "toggle", for: "show-internal" }, box, " show internal topics (" + internalCount + ")")));
  page.appendChild(holder);
  draw();
  return page;
}

// --- #/topics/NAME -------------------------------------------------------------------------

async function renderTopic(ctx: PageCtx): Promise<Node> {
  const name = ctx.params[0];
  const t = await api<TopicDetail>("topics/" + enc(name));
  const page = el("section", { testid: "page-topic" });
  page.appendChild(heading(t.name, "topic-title", t.internal ? el("span", { className: "tag" }, "internal") : null,
    link("/topics/" + enc(t.name) + "/messages", "Browse messages →", "messages-link")));
  const parts = t.partitions.slice().sort((a, b) => a.partition - b.partition);
  const total = parts.reduce((acc, p) => acc + (p.high_watermark - p.log_start_offset), 0);
  page.appendChild(facts([
    ["Topic id", t.topic_id, "topic-id"],
    ["Partitions", fmtInt(parts.length), "topic-partition-count"],
    ["Records", fmtInt(total), "topic-record-count"],
    ["Size", fmtBytes(parts.reduce((acc, p) => acc + p.size_bytes, 0)), "topic-size-total"],
  ]));
  page.appendChild(el("h2", null, "Partitions"));
  page.appendChild(table("partitions-table", ["Partition", "Log start", "High watermark", "Last stable", "Records", "Size", "Segments", ""],
    parts.map((p) => ({
      attrs: { testid: "partition-row", "data-partition": p.partition },
      cells: [
        { value: String(p.partition), className: "num", testid: "partition-id" },
        { value: String(p.log_start_offset), className: "num", testid: "log-start" },
        { value: String(p.high_watermark), className: "num", testid: "high-watermark" },
        { value: String(p.last_stable_offset), className: "num", testid: "lso" },
        { value: fmtInt(p.high_watermark - p.log_start_offset), className: "num", testid: "partition-records" },
        { value: fmtBytes(p.size_bytes), className: "num", testid: "partition-size" },
        { value: String(p.segments), className: "num", testid: "segments" },
        { value: link("/topics/" + enc(t.name) + "/messages?partition=" + p.partition, "messages") },
      ],
    })), "no partitions"));
  page.appendChild(el("h2", null, "Configs"));
  const keys = Object.keys(t.configs || {}).sort();
  page.appendChild(table("topic-configs-table", ["Name", "Value"],
    keys.map((k) => ({
      attrs: { testid: "topic-config-row", "data-name": k },
      cells: [{ value: k }, { value: t.configs[k] === null ? el("span", { className: "null" }, "(sensitive)") : String(t.configs[k]), className: "mono", testid: "topic-config-value" }],
    })), "no configs"));
  return page;
}

// --- #/topics/NAME/messages ----------------------------------------------------------------

type ValueView = "text" | "json" | "hex";
let defaultValueView: ValueView = "text";

function bytesLength(b: Bytes): number {
  return atob(b.base64).length;
}

/** Renders key/value bytes in one view; "json" pretty-prints when the text parses. */
function renderBytes(b: Bytes | null, view: ValueView, testid: string): HTMLElement {
  if (b === null) return el("pre", { className: "bytes null", testid: testid, "data-view": view }, "null");
  if (view === "hex" || (b.text === null && view === "text")) {
    const pre = el("pre", { className: "bytes hex", testid: testid, "data-view": "hex" }, hexDump(b64bytes(b.base64)));
    if (view !== "hex") pre.setAttribute("title", "not valid UTF-8: shown as hex");
    return pre;
  }
  if (view === "json") {
    if (b.text !== null) {
      try {
        const v: unknown = JSON.parse(b.text);
        return el("pre", { className: "bytes json", testid: testid, "data-view": "json" }, JSON.stringify(v, null, 2));
      } catch (_) {
        // fall through: not JSON
      }
    }
    const pre = el("pre", { className: "bytes", testid: testid, "data-view": "text" },
      b.text === null ? hexDump(b64bytes(b.base64)) : b.text);
    return el("div", null, el("span", { className: "note", testid: testid + "-notjson" }, "not JSON"), pre);
  }
  return el("pre", { className: "bytes", testid: testid, "data-view": "text" }, b.text === null ? "" : b.text);
}

function renderRecord(r: KafkaRecord): HTMLElement {
  const card = el("article", { className: "record", testid: "record", "data-offset": r.offset });
  let view: ValueView = defaultValueView;
  const valueHolder = el("div", { className: "value" });
  const switchBox = el("span", { className: "switch", role: "group", "aria-label": "value view" });
  const buttons: HTMLButtonElement[] = [];
  const draw = () => {
    valueHolder.replaceChildren(renderBytes(r.value, view, "record-value"));
    for (const b of buttons) b.classList.toggle("active", b.getAttribute("data-view") === view);
  };
  for (const [v, label] of [["text", "Text"], ["json", "JSON"], ["hex", "Hex"]] as [ValueView, string][]) {
    const b = el("button", { type: "button", "data-view": v, testid: "view-" + v }, label);
    b.addEventListener("click", () => { view = v; draw(); });
    buttons.push(b);
    switchBox.appendChild(b);
  }
  const headers = el("ul", { className: "headers", testid: "record-headers" });
  for (const h of r.headers) {
    headers.appendChild(el("li", { testid: "record-header", "data-key": h.key },
      el("span", { className: "hkey", testid: "header-key" }, h.key), " = ",
      el("span", { className: "hval", testid: "header-value" },
        h.value === null ? "null" : h.value.text !== null ? h.value.text : "0x" + hexString(b64bytes(h.value.base64)))));
  }
  const meta = el("div", { className: "record-meta" },
    el("span", { className: "offset" }, "offset ", el("b", { testid: "record-offset" }, String(r.offset))),
    el("span", { testid: "record-timestamp", title: r.timestamp_type + " " + r.timestamp }, fmtIso(r.timestamp)),
    el("span", { className: "tag" }, r.timestamp_type),
    r.transactional ? el("span", { className: "tag", testid: "record-transactional" }, "transactional") : null,
    r.value ? el("span", { className: "size" }, bytesLength(r.value) + " B") : null,
    switchBox);
  card.appendChild(meta);
  card.appendChild(el("div", { className: "kv" },
    el("div", { className: "label" }, "key"), renderBytes(r.key, "text", "record-key")));
  if (r.headers.length) card.appendChild(el("div", { className: "kv" }, el("div", { className: "label" }, "headers"), headers));
  card.appendChild(el("div", { className: "kv" }, el("div", { className: "label" }, "value"), valueHolder));
  draw();
  return card;
}

function parseTimestampInput(s: string): number | null {
  const t = s.trim();
  if (t === "") return null;
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  return isNaN(ms) ? NaN : ms;
}

async function renderMessages(ctx: PageCtx): Promise<Node> {
  const name = ctx.params[0];
  const q = ctx.query;
  const topic = await api<TopicDetail>("topics/" + enc(name));
  const page = el("section", { testid: "page-messages" });
  page.appendChild(heading(topic.name + ": messages", "page-title", link("/topics/" + enc(topic.name), "← topic", "topic-link")));

  const partition = q.get("partition") || "0";
  const mode = q.get("timestamp") !== null ? "timestamp" : "offset";
  const limit = q.get("limit") || "50";

  const sel = el("select", { testid: "partition-select", id: "m-partition" });
  for (const p of topic.partitions.slice().sort((a, b) => a.partition - b.partition)) {
    const o = el("option", { value: p.partition }, "partition " + p.partition + " (" + p.log_start_offset + "–" + p.high_watermark + ")");
    if (String(p.partition) === partition) o.selected = true;
    sel.appendChild(o);
  }
  const modeOffset = el("input", { type: "radio", name: "m-mode", value: "offset", id: "m-mode-offset", testid: "mode-offset" });
  const modeTs = el("input", { type: "radio", name: "m-mode", value: "timestamp", id: "m-mode-ts", testid: "mode-timestamp" });
  modeOffset.checked = mode === "offset";
  modeTs.checked = mode === "timestamp";
  const offIn = el("input", { type: "text", inputmode: "numeric", id: "m-offset", testid: "from-offset", placeholder: "log start", size: 10 });
  offIn.value = q.get("offset") || "";
  const tsIn = el("input", { type: "text", id: "m-ts", testid: "from-timestamp", placeholder: "ms or 2026-01-31T12:00:00Z", size: 26 });
  const tsq = q.get("timestamp");
  tsIn.value = tsq !== null ? fmtIso(Number(tsq)) : "";
  const limIn = el("input", { type: "number", min: 1, max: 500, id: "m-limit", testid: "limit", size: 5 });
  limIn.value = limit;
  offIn.addEventListener("focus", () => { modeOffset.checked = true; });
  tsIn.addEventListener("focus", () => { modeTs.checked = true; });
  const formError = el("div", { className: "form-error", testid: "form-error" });
  const form = el("form", { className: "toolbar", testid: "messages-form" },
    el("label", { for: "m-partition" }, "Partition "), sel,
    el("span", { className: "sep" }),
    el("label", null, modeOffset, " from offset "), offIn,
    el("label", null, modeTs, " from timestamp "), tsIn,
    el("span", { className: "sep" }),
    el("label", { for: "m-limit" }, "limit "), limIn,
    el("button", { type: "submit", testid: "fetch-messages" }, "Show"),
    formError);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    p.set("partition", sel.value);
    if (modeTs.checked) {
      const ms = parseTimestampInput(tsIn.value);
      if (ms === null || isNaN(ms)) { formError.textContent = "enter a timestamp: milliseconds since the epoch or an ISO 8601 date"; return; }
      p.set("timestamp", String(ms));
    } else if (offIn.value.trim() !== "") {
      p.set("offset", offIn.value.trim());
    }
    p.set("limit", limIn.value.trim() || "50");
    ctx.navigate("/topics/" + enc(topic.name) + "/messages?" + p.toString());
  });
  page.appendChild(form);

  const viewSel = el("span", { className: "switch", role: "group", "aria-label": "all values" }, "all values: ");
  for (const [v, label] of [["text", "Text"], ["json", "JSON"], ["hex", "Hex"]] as [ValueView, string][]) {
    const b = el("button", { type: "button", testid: "view-all-" + v, className: v === defaultValueView ? "active" : null }, label);
    b.addEventListener("click", () => {
      defaultValueView = v;
      for (const btn of Array.from(page.querySelectorAll('[data-testid="view-' + v + '"]'))) (btn as HTMLButtonElement).click();
      for (const other of Array.from(viewSel.querySelectorAll("button"))) other.classList.toggle("active", other === b);
    });
    viewSel.appendChild(b);
  }

  // the records themselves; the API's 400/404 show here, below the form, so it can be fixed
  const params = new URLSearchParams();
  params.set("partition", partition);
  if (mode === "timestamp") params.set("timestamp", q.get("timestamp") || "");
  else if (q.get("offset")) params.set("offset", q.get("offset") || "");
  params.set("limit", limit);
  let m: Messages;
  try {
    m = await api<Messages>("topics/" + enc(topic.name) + "/messages?" + params.toString());
  } catch (e) {
    page.appendChild(errorBox(String((e as Error).message)));
    return page;
  }
  const nextParams = new URLSearchParams();
  nextParams.set("partition", String(m.partition));
  nextParams.set("offset", String(m.next_offset));
  nextParams.set("limit", limit);
  const atEnd = m.next_offset >= m.high_watermark;
  const next = el("a", {
    className: "button" + (atEnd ? " disabled" : ""), testid: "next-page",
    href: "#/topics/" + enc(topic.name) + "/messages?" + nextParams.toString(),
  }, "Next page →");
  if (atEnd) next.setAttribute("aria-disabled", "true");
  const first = m.records.length ? m.records[0].offset : null;
  const lastOff = m.records.length ? m.records[m.records.length - 1].offset : null;
  page.appendChild(el("div", { className: "toolbar results-bar" },
    el("span", { testid: "messages-summary" },
      m.records.length
        ? m.records.length + (m.records.length === 1 ? " record, offsets " : " records, offsets ") + first + "–" + lastOff + " of partition " + m.partition + " (log start " + m.log_start_offset + ", high watermark " + m.high_watermark + ")"
        : "no records from here (partition " + m.partition + ": log start " + m.log_start_offset + ", high watermark " + m.high_watermark + ")"),
    viewSel, next));
  const list = el("div", { className: "records", testid: "records" });
  for (const r of m.records) list.appendChild(renderRecord(r));
  page.appendChild(list);
  return page;
}

// --- #/groups ------------------------------------------------------------------------------

async function renderGroups(_ctx: PageCtx): Promise<Node> {
  const groups = (await api<GroupSummary[]>("groups")).slice().sort((a, b) => (a.group_id < b.group_id ? -1 : a.group_id > b.group_id ? 1 : 0));
  const page = el("section", { testid: "page-groups" });
  page.appendChild(heading("Consumer groups", "page-title"));
  page.appendChild(table("groups-table", ["Group", "Protocol", "State", "Members", "Lag"],
    groups.map((g) => ({
      attrs: { testid: "group-row", "data-group": g.group_id },
      cells: [
        { value: link("/groups/" + enc(g.group_id), g.group_id, "group-link"), testid: "group-id" },
        { value: g.protocol, testid: "group-protocol" },
        { value: el("span", { className: "state state-" + g.state.toLowerCase() }, g.state), testid: "group-state" },
        { value: fmtInt(g.members), className: "num", testid: "group-members" },
        { value: String(g.lag), className: "num", testid: "group-lag" },
      ],
    })), "no consumer groups"));
  page.appendChild(el("p", { className: "hint" }, "Refreshed every 2 s."));
  return page;
}

// --- #/groups/ID ---------------------------------------------------------------------------

async function renderGroup(ctx: PageCtx): Promise<Node> {
  const id = ctx.params[0];
  const g = await api<GroupDetail>("groups/" + enc(id));
  const page = el("section", { testid: "page-group" });
  const totalLag = g.offsets.reduce((acc, o) => acc + o.lag, 0);
  page.appendChild(heading(g.group_id, "group-title", el("span", { className: "state state-" + g.state.toLowerCase(), testid: "group-state" }, g.state)));
  page.appendChild(facts([
    ["Protocol", g.protocol, "group-protocol"],
    ["Protocol type", g.protocol_type || "–", "group-protocol-type"],
    ["Assignor", g.assignor || "–", "group-assignor"],
    ["Generation", String(g.generation), "group-generation"],
    ["Members", fmtInt(g.members.length), "group-member-count"],
    ["Total lag", String(totalLag), "group-total-lag"],
  ]));
  page.appendChild(el("h2", null, "Members"));
  page.appendChild(table("members-table", ["Member id", "Client id", "Host", "Assignment"],
    g.members.map((m) => ({
      attrs: { testid: "member-row", "data-member": m.member_id },
      cells: [
        { value: m.member_id, className: "mono", testid: "member-id" },
        { value: m.client_id, testid: "member-client-id" },
        { value: m.client_host, testid: "member-host" },
        { value: m.assignment.length ? m.assignment.map((a) => a.topic + ": " + a.partitions.slice().sort((x, y) => x - y).join(", ")).join("; ") : "–", testid: "member-assignment" },
      ],
    })), "no members"));
  page.appendChild(el("h2", null, "Committed offsets"));
  const offsets = g.offsets.slice().sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  page.appendChild(table("offsets-table", ["Topic", "Partition", "Committed", "High watermark", "Lag", "Lag time"],
    offsets.map((o) => ({
      attrs: { testid: "offset-row", "data-topic": o.topic, "data-partition": o.partition },
      cells: [
        { value: link("/topics/" + enc(o.topic), o.topic), testid: "offset-topic" },
        { value: String(o.partition), className: "num", testid: "offset-partition" },
        { value: String(o.committed), className: "num", testid: "offset-committed" },
        { value: String(o.high_watermark), className: "num", testid: "offset-hw" },
        { value: String(o.lag), className: "num", testid: "offset-lag" },
        { value: fmtDuration(o.lag_ms), className: "num", testid: "offset-lag-time" },
      ],
    })), "no committed offsets"));
  page.appendChild(el("h2", null, "Lag history"));
  page.appendChild(lineChart("lag-chart", "total lag (records)", [
    { name: "lag", className: "s-lag", points: (g.history || []).map((h) => [h.t_ms, h.lag] as [number, number]) },
  ], (v) => fmtRate(v)));
  page.appendChild(el("p", { className: "hint" }, "Sampled every 2 s over the last 10 minutes; refreshed every 2 s."));
  return page;
}

// --- #/transactions --------------------------------------------------------------------------

async function renderTransactions(_ctx: PageCtx): Promise<Node> {
  const txns = (await api<Transaction[]>("transactions")).slice().sort((a, b) => (a.transactional_id < b.transactional_id ? -1 : 1));
  const page = el("section", { testid: "page-transactions" });
  page.appendChild(heading("Transactions", "page-title"));
  page.appendChild(table("transactions-table", ["Transactional id", "Producer id", "Epoch", "State", "Timeout", "Partitions"],
    txns.map((t) => ({
      attrs: { testid: "txn-row", "data-txn": t.transactional_id },
      cells: [
        { value: t.transactional_id, testid: "txn-id" },
        { value: String(t.producer_id), className: "num", testid: "txn-producer-id" },
        { value: String(t.producer_epoch), className: "num", testid: "txn-epoch" },
        { value: t.state, testid: "txn-state" },
        { value: fmtDuration(t.timeout_ms), className: "num", testid: "txn-timeout" },
        { value: t.partitions.length ? t.partitions.map((p) => p.topic + "-" + p.partition).join(", ") : "–", testid: "txn-partitions" },
      ],
    })), "no transactions"));
  return page;
}

// --- #/configs -------------------------------------------------------------------------------

let configFilter = "";

async function renderConfigs(_ctx: PageCtx): Promise<Node> {
  const configs = (await api<BrokerConfig[]>("configs")).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = el("section", { testid: "page-configs" });
  const input = el("input", { type: "search", testid: "config-filter", placeholder: "filter by name or value", size: 30, "aria-label": "filter" });
  input.value = configFilter;
  const count = el("span", { className: "hint", testid: "config-count" });
  page.appendChild(heading("Broker configs", "page-title", input, count));
  const holder = el("div");
  const draw = () => {
    const f = configFilter.trim().toLowerCase();
    const shown = configs.filter((c) => !f || c.name.toLowerCase().indexOf(f) >= 0 || (c.value !== null && c.value.toLowerCase().indexOf(f) >= 0));
    count.textContent = shown.length + " of " + configs.length;
    holder.replaceChildren(table("configs-table", ["Name", "Value", "Source"],
      shown.map((c) => ({
        attrs: { testid: "config-row", "data-name": c.name, className: c.source !== "default" ? "overridden" : null },
        cells: [
          { value: c.name, className: "mono", testid: "config-name" },
          { value: c.sensitive || c.value === null ? el("span", { className: "null" }, c.sensitive ? "(sensitive)" : "null") : c.value, className: "mono", testid: "config-value" },
          { value: el("span", { className: "source source-" + c.source }, c.source), testid: "config-source" },
        ],
      })), "no config matches"));
  };
  input.addEventListener("input", () => { configFilter = input.value; draw(); });
  page.appendChild(holder);
  draw();
  return page;
}
