// The broker's JSON API (/api/...), its types and formatting helpers.

interface Listener { name: string; protocol: string; address: string; connections: number }
interface Overview {
  cluster_id: string; node_id: number; version: string; uptime_ms: number; listeners: Listener[];
  topics: number; partitions: number; groups: number; transactions: number;
}
interface TopicSummary {
  name: string; topic_id: string; internal: boolean; partitions: number; size_bytes: number;
  records: number; cleanup_policy: string;
}
interface PartitionInfo {
  partition: number; log_start_offset: number; high_watermark: number; last_stable_offset: number;
  size_bytes: number; segments: number;
}
interface TopicDetail {
  name: string; topic_id: string; internal: boolean; configs: { [key: string]: string | null };
  partitions: PartitionInfo[];
}
interface Bytes { base64: string; text: string | null }
interface RecordHeader { key: string; value: Bytes | null }
interface KafkaRecord {
  offset: number; timestamp: number; timestamp_type: string; key: Bytes | null; value: Bytes | null;
  headers: RecordHeader[]; transactional: boolean;
}
interface Messages {
  topic: string; partition: number; log_start_offset: number; high_watermark: number;
  records: KafkaRecord[]; next_offset: number;
}
interface GroupSummary { group_id: string; protocol: string; state: string; members: number; lag: number }
interface Member {
  member_id: string; client_id: string; client_host: string;
  assignment: { topic: string; partitions: number[] }[];
}
interface GroupOffset {
  topic: string; partition: number; committed: number; high_watermark: number; lag: number; lag_ms: number;
}
interface GroupDetail {
  group_id: string; protocol: string; state: string; protocol_type: string; assignor: string;
  generation: number; members: Member[]; offsets: GroupOffset[]; history: { t_ms: number; lag: number }[];
}
interface Transaction {
  transactional_id: string; producer_id: number; producer_epoch: number; state: string; timeout_ms: number;
  partitions: { topic: string; partition: number }[];
}
interface BrokerConfig { name: string; value: string | null; source: string; sensitive: boolean }
interface ThroughputSample {
  t_ms: number; bytes_in: number; bytes_out: number; messages_in: number; messages_out: number; requests: number;
}
interface Throughput { interval_ms: number; samples: ThroughputSample[] }

class ApiError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/** GET /api/<path>; throws ApiError with the broker's {"error": ...} text on a non-2xx answer. */
async function api<T>(path: string): Promise<T> {
  const url = "/api/" + path;
  let resp: Response;
  try {
    resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new ApiError("GET " + url + ": broker unreachable (" + String(e) + ")");
  }
  const body = await resp.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(body);
  } catch (_) {
    // not JSON: reported below
  }
  if (!resp.ok) {
    const msg = parsed && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string"
      ? (parsed as { error: string }).error
      : body.slice(0, 200) || resp.statusText;
    throw new ApiError("GET " + url + " answered " + resp.status + ": " + msg);
  }
  if (parsed === undefined) throw new ApiError("GET " + url + ": the answer is not JSON");
  return parsed as T;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function fmtInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : 1)) + " " + units[i];
}

function fmtRate(n: number): string {
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}

function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !isFinite(ms)) return "–";
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

function fmtIso(ms: number): string {
  const d = new Date(ms);
  return isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function fmtClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => (n < 10 ? "0" : "") + n;
  return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}

function b64bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hexString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

/** A hex dump: 16 bytes a line, offset, hex, printable ASCII. */
function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const chunk = bytes.subarray(off, Math.min(off + 16, bytes.length));
    let hex = "", asc = "";
    for (let i = 0; i < 16; i++) {
      if (i < chunk.length) {
        hex += (chunk[i] < 16 ? "0" : "") + chunk[i].toString(16) + " ";
        asc += chunk[i] >= 32 && chunk[i] < 127 ? String.fromCharCode(chunk[i]) : ".";
      } else {
        hex += "   ";
      }
      if (i === 7) hex += " ";
    }
    lines.push(("0000000" + off.toString(16)).slice(-8) + "  " + hex + " |" + asc + "|");
  }
  return lines.join("\n");
}
