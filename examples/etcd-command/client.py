#!/usr/bin/env python3
"""A faultline --client-command client for etcd, through etcd's JSON gateway (v3 API over
HTTP), written from faultline's README only; standard library only. Registers: read, write,
cas, one key each. `--serializable` reads from the member's local state (may be stale);
without it reads are linearizable (etcd's default)."""
import base64
import http.client
import json
import os
import socket
import sys

host, port = os.environ["FAULTLINE_ENDPOINT"].rsplit(":", 1)
serializable = "--serializable" in sys.argv


def b64(data):
    return base64.b64encode(data.encode()).decode()


def call(path, body):
    """(status, body) when etcd answered; ("refused", why) when nothing was sent;
    ("unknown", why) when the request may have been applied."""
    conn = http.client.HTTPConnection(host, int(port), timeout=1.0)
    try:
        conn.connect()
    except OSError as e:
        return "refused", str(e)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except (OSError, socket.timeout, http.client.HTTPException, ValueError) as e:
        return "unknown", str(e)
    finally:
        conn.close()


def perform(op):
    f, key, value = op["f"], str(op["key"]), op["value"]
    if f == "read":
        status, body = call("/v3/kv/range", {"key": b64(key), "serializable": serializable})
        if status != 200:
            return {"type": "fail", "error": f"{status}: {body}"}  # a read changes nothing
        kvs = body.get("kvs") or []
        found = json.loads(base64.b64decode(kvs[0]["value"])) if kvs and "value" in kvs[0] else None
        return {"type": "ok", "value": found}
    if f == "write":
        request = {"key": b64(key), "value": b64(json.dumps(value))}
        status, body = call("/v3/kv/put", request)
        if status == 200:
            return {"type": "ok", "value": value}
    elif f == "cas":
        old, new = value
        compare = ({"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
                   if old is None else
                   {"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(json.dumps(old))})
        txn = {"compare": [compare],
               "success": [{"request_put": {"key": b64(key), "value": b64(json.dumps(new))}}]}
        status, body = call("/v3/kv/txn", txn)
        if status == 200:
            if body.get("succeeded"):
                return {"type": "ok", "value": value}
            return {"type": "fail", "error": "cas mismatch"}
    else:
        return {"type": "fail", "error": f"this client does not do {f}"}
    if status == "refused":
        return {"type": "fail", "error": body}
    return {"type": "info", "error": f"{status}: {body}"}


for line in sys.stdin:
    print(json.dumps(perform(json.loads(line))), flush=True)
