#!/usr/bin/env python3
"""Checks for connect-debezium/run.sh. Reads what `compat.CdcTool dump` printed
(PARTITION \t OFFSET \t KEY \t VALUE per record, \\N for null) and compares it with what
the script expected. Exit 0 = pass; otherwise the reason is printed on stderr.

  check.py count DUMP
      prints the number of records in DUMP
  check.py events DUMP EXPECTED exact|dedupe
      DUMP holds Debezium change events (JSON converter, schemas off, key {"id": N});
      EXPECTED has one line per event: "OP ID BEFORE AFTER" (OP r|c|u|d, or t for the
      tombstone after a delete; BEFORE/AFTER are the row's name column, - for none).
      exact: the events are exactly EXPECTED, in order. dedupe: the same, after dropping
      re-deliveries of an event already seen (same op, key, before, after and source LSN;
      at-least-once mode may re-send after a restart); the number dropped is printed.
  check.py internal CONFIGS OFFSETS STATUS CONNECTOR SERVER
      Connect's own topics after the broker was killed: CONFIGS holds the connector's
      config, its task config and the tasks commit; OFFSETS a source offset with an LSN for
      partition {"server": SERVER}; STATUS the connector and task 0 as RUNNING.
  check.py sink FILE DUMP [REPLAY_FROM]
      FILE (written by FileStreamSink with the StringConverter) holds each record value
      of DUMP, in order ("null" for a tombstone); with REPLAY_FROM, followed by the values
      from record #REPLAY_FROM on once more (the sink's offsets were moved back).
  check.py snapshot DUMP FROM EXPECTED
      the events of DUMP from #FROM on are exactly the lines of EXPECTED ("r ID - NAME",
      one per live row, any order): a new snapshot, nothing else.
  check.py selftest
      the event check rejects a dropped, a reordered and (exact) a duplicated event
  check.py status JSON|- [WORKER]
      exit 0 when a /connectors/NAME/status answer (- for stdin) shows the connector and
      all its tasks (at least one) RUNNING, and with WORKER all of them on that worker id;
      prints the states otherwise.
"""
import json
import sys


def fail(msg):
    print("check: " + msg, file=sys.stderr)
    sys.exit(1)


def unescape(s):
    if s == "\\N":
        return None
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"t": "\t", "n": "\n", "\\": "\\"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def records(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("["):
                continue  # the tool's own log lines
            parts = line.split("\t")
            if len(parts) != 4:
                fail(f"{path}: malformed dump line {line!r}")
            out.append((int(parts[0]), int(parts[1]), unescape(parts[2]), unescape(parts[3])))
    return out


def name_of(row):
    return "-" if row is None else str(row.get("name"))


def event_line(key, value):
    """(printable 'OP ID BEFORE AFTER', identity for de-duplication)"""
    k = json.loads(key) if key is not None else None
    kid = k.get("id") if isinstance(k, dict) else k
    if value is None:
        return f"t {kid} - -", None
    v = json.loads(value)
    op = v.get("op")
    line = f"{op} {kid} {name_of(v.get('before'))} {name_of(v.get('after'))}"
    return line, (line, (v.get("source") or {}).get("lsn"))


def cmd_events(dump, expected_path, mode):
    recs = records(dump)
    with open(expected_path) as f:
        expected = [l.strip() for l in f if l.strip()]
    got, seen, dropped, skip_tombstone = [], set(), 0, False
    for (_p, _o, key, value) in recs:
        line, ident = event_line(key, value)
        if mode == "dedupe":
            if ident is None and skip_tombstone:
                skip_tombstone = False
                dropped += 1
                continue
            skip_tombstone = False
            if ident is not None and ident in seen:
                dropped += 1
                skip_tombstone = line.startswith("d ")
                continue
            if ident is not None:
                seen.add(ident)
        got.append(line)
    if got != expected:
        # first difference, with context
        i = next((i for i in range(min(len(got), len(expected))) if got[i] != expected[i]), min(len(got), len(expected)))
        fail(f"{len(got)} events, expected {len(expected)}; first difference at #{i}: "
             f"got {got[i:i + 3]} expected {expected[i:i + 3]}")
    print(f"{len(got)} events as expected, in order" + (f"; {dropped} re-deliveries dropped" if mode == "dedupe" else ""))


def cmd_internal(configs, offsets, status, connector, server):
    ckeys = [k for (_p, _o, k, _v) in records(configs)]
    for want in (f"connector-{connector}", f"task-{connector}-0", f"commit-{connector}"):
        if want not in ckeys:
            fail(f"config topic lacks {want!r} (keys: {sorted(set(k for k in ckeys if k))})")
    conf = [json.loads(v) for (_p, _o, k, v) in records(configs) if k == f"connector-{connector}" and v]
    if not conf or "properties" not in conf[-1] or conf[-1]["properties"].get("name") != connector:
        fail(f"config topic: no connector config for {connector}: {conf[-1:]}")
    lsn = None
    for (_p, _o, k, v) in records(offsets):
        if k is None or v is None:
            continue
        kk = json.loads(k)
        if kk == [connector, {"server": server}]:
            lsn = json.loads(v).get("lsn")
    if not lsn:
        fail(f"offset topic has no LSN for [{connector}, {{server: {server}}}]")
    last = {}
    for (_p, _o, k, v) in records(status):
        if k and v:
            last[k] = json.loads(v).get("state")
    for want in (f"status-connector-{connector}", f"status-task-{connector}-0"):
        if last.get(want) != "RUNNING":
            fail(f"status topic: {want} is {last.get(want)!r}")
    print(f"config, offsets (lsn {lsn}) and status of {connector} intact")


def cmd_sink(path, dump, replay_from=None):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    want = ["null" if v is None else v for (_p, _o, _k, v) in records(dump)]
    if replay_from is not None:
        want += want[int(replay_from):]
    if lines != want:
        i = next((i for i in range(min(len(lines), len(want))) if lines[i] != want[i]), min(len(lines), len(want)))
        fail(f"sink file has {len(lines)} lines, topic {len(want)} records; first difference at #{i}: "
             f"{lines[i:i + 1]} vs {want[i:i + 1]}")
    print(f"sink file holds the topic's {len(want)} records in order")


def cmd_snapshot(dump, start, expected_path):
    got = sorted(event_line(k, v)[0] for (_p, _o, k, v) in records(dump)[int(start):])
    with open(expected_path) as f:
        want = sorted(l.strip() for l in f if l.strip())
    if got != want:
        fail(f"after #{start}: {len(got)} events, expected the {len(want)} rows; "
             f"unexpected {sorted(set(got) - set(want))[:3]}, missing {sorted(set(want) - set(got))[:3]}")
    print(f"{len(got)} snapshot events, one per live row")


def cmd_status(text, worker=None):
    try:
        s = json.loads(text)
    except ValueError:
        fail(f"not a status answer: {text[:200]!r}")
    states = [s.get("connector", {}).get("state")] + [t.get("state") for t in s.get("tasks", [])]
    if len(states) < 2 or any(x != "RUNNING" for x in states):
        trace = [t.get("trace", "")[:300] for t in s.get("tasks", []) if t.get("trace")]
        fail(f"states {states} {trace}")
    if worker:
        workers = [s.get("connector", {}).get("worker_id")] + [t.get("worker_id") for t in s.get("tasks", [])]
        if any(w != worker for w in workers):
            fail(f"workers {workers}, expected all on {worker}")


def cmd_selftest():
    import os
    import subprocess
    import tempfile

    def ev(i, op, before, after, lsn):
        row = lambda n: None if n is None else {"id": i, "name": n}
        return f'0\t{i}\t{{"id":{i}}}\t' + json.dumps({"op": op, "before": row(before), "after": row(after), "source": {"lsn": lsn}})

    good = [ev(1, "c", None, "a", 10), ev(1, "u", "a", "b", 20), ev(2, "c", None, "x", 30),
            ev(1, "d", "b", None, 40), '0\t4\t{"id":1}\t\\N']
    expected = "c 1 - a\nu 1 a b\nc 2 - x\nd 1 b -\nt 1 - -\n"
    cases = {"good": (good, True, True), "dropped": (good[:1] + good[2:], False, False),
             "reordered": ([good[1], good[0]] + good[2:], False, False),
             "duplicated": (good[:2] + [good[1]] + good[2:], False, True)}
    with tempfile.TemporaryDirectory() as d:
        exp = os.path.join(d, "expected")
        with open(exp, "w") as f:
            f.write(expected)
        for name, (lines, exact_ok, dedupe_ok) in cases.items():
            dump = os.path.join(d, name)
            with open(dump, "w") as f:
                f.write("\n".join(lines) + "\n")
            for mode, want in (("exact", exact_ok), ("dedupe", dedupe_ok)):
                rc = subprocess.run([sys.executable, __file__, "events", dump, exp, mode],
                                    capture_output=True).returncode
                if (rc == 0) != want:
                    fail(f"selftest: {name}/{mode} gave exit {rc}")
    print("selftest ok")


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "count":
        print(len(records(args[0])))
    elif cmd == "events":
        cmd_events(*args)
    elif cmd == "internal":
        cmd_internal(*args)
    elif cmd == "sink":
        cmd_sink(*args)
    elif cmd == "snapshot":
        cmd_snapshot(*args)
    elif cmd == "selftest":
        cmd_selftest()
    elif cmd == "status":
        text = sys.stdin.read() if not args or args[0] == "-" else args[0]
        cmd_status(text, args[1] if len(args) > 1 else None)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
