#!/usr/bin/env python3
"""Starts a broker and times how long until it serves: ApiVersions v0 answers and Metadata v1 lists a broker.

usage: probe.py HOST:PORT TIMEOUT_S LOG -- COMMAND [ARGS...]
  Starts COMMAND (stdout and stderr appended to LOG), polls HOST:PORT with raw requests (no client
  library) and prints "PID MILLISECONDS" once it serves, leaving the broker running; exit 1 (and the
  broker killed) if it does not serve within TIMEOUT_S. The clock starts just before the exec, so the
  figure is the same measurement for Odradek and for Apache Kafka's JVM.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def request(sock, api_key, version, corr, body):
    client = b"probe"
    frame = struct.pack(">hhih", api_key, version, corr, len(client)) + client + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    return recv_exact(sock, size)


def serving(host, port):
    with socket.create_connection((host, port), timeout=1.0) as s:
        resp = request(s, 18, 0, 1, b"")
        corr, err = struct.unpack(">ih", resp[:6])
        if corr != 1 or err != 0:
            return False
        # Metadata v1 with an empty topic array: brokers only
        resp = request(s, 3, 1, 2, struct.pack(">i", 0))
        corr, brokers = struct.unpack(">ii", resp[:8])
        return corr == 2 and brokers >= 1


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    limit = float(sys.argv[2])
    log = open(sys.argv[3], "ab")
    start = time.monotonic()
    child = subprocess.Popen(sys.argv[5:], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    while time.monotonic() - start < limit and child.poll() is None:
        try:
            if serving(host, int(port)):
                print(child.pid, round((time.monotonic() - start) * 1000, 1))
                return 0
        except (OSError, ConnectionError, struct.error):
            pass
        time.sleep(0.001)
    print(f"probe: {sys.argv[5]} did not serve on {sys.argv[1]} within {limit} s", file=sys.stderr)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    return 1


if __name__ == "__main__":
    sys.exit(main())
