#!/usr/bin/env python3
"""A faultline --client-command client, written from the README only: it speaks faultline's
generic HTTP protocol to the node in FAULTLINE_ENDPOINT. Standard library only.

With --stale-reads it answers reads from what it wrote itself (a broken client the checker
must catch); with --crash-every N it exits without answering every N-th op."""
import http.client
import json
import os
import sys
import urllib.parse

host, port = os.environ["FAULTLINE_ENDPOINT"].rsplit(":", 1)
stale = "--stale-reads" in sys.argv
crash_every = int(sys.argv[sys.argv.index("--crash-every") + 1]) if "--crash-every" in sys.argv else 0
local = {}


def request(method, path, body=None):
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"content-type": "application/json"})
    except ConnectionRefusedError as e:
        return None, str(e), True
    try:
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null"), False
    except Exception as e:  # the request was sent: it may have happened
        return None, str(e), False
    finally:
        conn.close()


def outcome(status, body, refused, read_only):
    if status == 200:
        return None
    if refused or status == 503 or status == 409 or (status is not None and 400 <= status < 500):
        return {"type": "fail", "error": f"{status}: {body}"}
    return {"type": "fail" if read_only else "info", "error": f"{status}: {body}"}


def perform(op):
    f, key, value = op["f"], op.get("key"), op["value"]
    path = "/kv/" + urllib.parse.quote(str(key), safe="") if key is not None else None
    if f == "read":
        if stale and key in local:
            return {"type": "ok", "value": local[key]}
        status, body, refused = request("GET", path)
        return outcome(status, body, refused, True) or {"type": "ok", "value": body["value"]}
    if f == "write":
        status, body, refused = request("PUT", path, {"value": value})
        local[key] = value
        return outcome(status, body, refused, False) or {"type": "ok", "value": value}
    if f == "cas":
        status, body, refused = request("POST", path + "/cas", {"from": value[0], "to": value[1]})
        bad = outcome(status, body, refused, False)
        if bad:
            return bad
        if body.get("applied"):
            local[key] = value[1]
            return {"type": "ok", "value": value}
        return {"type": "fail", "error": "cas mismatch"}
    if f == "txn":
        read_only = all(m[0] == "r" for m in value)
        status, body, refused = request("POST", "/txn", {"ops": value})
        return outcome(status, body, refused, read_only) or {"type": "ok", "value": body["ops"]}
    return {"type": "fail", "error": f"unknown op {f}"}


count = 0
for line in sys.stdin:
    count += 1
    if crash_every and count % crash_every == 0:
        print(f"process {os.environ['FAULTLINE_PROCESS']}: crashing on purpose", file=sys.stderr)
        sys.exit(3)
    answer = perform(json.loads(line))
    print(json.dumps(answer), flush=True)
