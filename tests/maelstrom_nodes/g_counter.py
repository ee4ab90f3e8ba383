#!/usr/bin/env python3
"""g-counter and pn-counter on seq-kv: each node keeps its own total under its own key (only
it writes it, so its local copy is the truth); a read first writes a key of its own (seq-kv
may serve a node that has not written an old state for ever), then sums every node's key.
With --double (g_counter_double.py) an add is applied twice: invalid."""
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

double = "--double" in sys.argv
node = Node()
mine = 0
lock = threading.Lock()

def add(m):
    global mine
    delta = m["body"]["delta"]
    with lock:
        mine += delta * (2 if double else 1)
        value = mine
        reply = node.call("seq-kv", {"type": "write", "key": node.node_id, "value": value})
    if reply and reply.get("type") == "write_ok":
        node.reply(m, {"type": "add_ok"})
    else:
        node.reply(m, {"type": "error", "code": 13, "text": f"seq-kv said {reply}"})

def read(m):
    # seq-kv may serve this node an old state for as long as it has not written: a write
    # first brings its view up to date (it then sees every write ordered before it).
    node.call("seq-kv", {"type": "write", "key": "sync-" + node.node_id, "value": m["body"].get("msg_id")})
    total = 0
    for n in node.node_ids:
        if n == node.node_id:
            with lock:
                total += mine
            continue
        reply = node.call("seq-kv", {"type": "read", "key": n})
        if reply is None:
            node.reply(m, {"type": "error", "code": 11, "text": "seq-kv did not answer"})
            return
        if reply.get("type") == "read_ok":
            total += reply["value"]
    node.reply(m, {"type": "read_ok", "value": total})

node.on("add", add)
node.on("read", read)
node.run()
