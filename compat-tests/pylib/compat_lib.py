"""What the Python clients' compat.py files share: the check helpers and the scenario runner.

Each compat.py puts this folder on sys.path and calls run_scenarios(); verdicts are printed as
"PASS <label>/<name> ..." / "FAIL <label>/<name>: reason" and appended to $COMPAT_RESULTS.
"""
import os
import time
import traceback
import uuid


class Mismatch(AssertionError):
    pass


def check(ok, what):
    if not ok:
        raise Mismatch(what)


def check_eq(expected, actual, what):
    if expected != actual:
        raise Mismatch("%s: expected %r but got %r" % (what, expected, actual))


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def run_scenarios(label, scenarios, argv, doc, start):
    """argv: [prog, BOOTSTRAP, scenario...]; start(bootstrap) prepares the client module (its
    bootstrap, logging) and prints its version line. Returns the process exit code."""
    if len(argv) < 2:
        print(doc)
        return 2
    start(argv[1])
    names = argv[2:] or list(scenarios)
    results_file = os.environ.get("COMPAT_RESULTS")
    failed = 0
    for name in names:
        full = "%s/%s" % (label, name)
        t0 = time.time()
        try:
            info = scenarios[name]()
            line = "PASS %s (%.1fs) %s" % (full, time.time() - t0, info or "")
            verdict = "PASS"
        except Exception as e:  # noqa: BLE001 - any client error is a failed scenario
            failed += 1
            verdict = "FAIL"
            kind = "" if isinstance(e, Mismatch) else type(e).__name__ + ": "
            line = "FAIL %s (%.1fs): %s%s" % (full, time.time() - t0, kind, e)
            if not isinstance(e, Mismatch):
                traceback.print_exc()
        print(line, flush=True)
        if results_file:
            with open(results_file, "a") as f:
                f.write("%s %s\n" % (verdict, full))
    print("[%s] %d passed, %d failed" % (label, len(names) - failed, failed))
    return 1 if failed else 0
