#!/usr/bin/env python3
"""txn-list-append and txn-rw-register: every transaction is forwarded to n1, which runs
transactions one at a time on its own state (a single serialisation point). Strictly
serializable while n1 is reachable; other nodes answer a definite error 11 when it is not.
Verdict: valid. With --local (broken) each node runs transactions on its own state and never
tells the others, so clients of different nodes see different histories of a key: invalid
with more than one node."""
import copy, os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
state = {}
lock = threading.Lock()

def execute(txn):
    with lock:
        done = []
        for f, k, v in txn:
            key = str(k)
            if f == "r":
                done.append([f, k, copy.deepcopy(state.get(key))])
            elif f == "append":
                state.setdefault(key, []).append(v)
                done.append([f, k, v])
            else:
                state[key] = v
                done.append([f, k, v])
        return done

def txn(m):
    if node.node_id == node.node_ids[0] or "--local" in sys.argv:
        node.reply(m, {"type": "txn_ok", "txn": execute(m["body"]["txn"])})
        return
    reply = node.call(node.node_ids[0], {"type": "txn", "txn": m["body"]["txn"]}, timeout=1.0)
    if reply is None:
        only_reads = all(f == "r" for f, _, _ in m["body"]["txn"])
        node.reply(m, {"type": "error", "code": 11 if only_reads else 13, "text": "n1 did not answer"})
    else:
        node.reply(m, {k: v for k, v in reply.items() if k not in ("msg_id", "in_reply_to")})

node.on("txn", txn)
node.run()
