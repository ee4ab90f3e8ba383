#!/usr/bin/env python3
"""txn-list-append and txn-rw-register, broken: each node runs transactions on its own state
and never tells the others, so clients of different nodes see different histories of a key.
Verdict: invalid (with more than one node)."""
import copy, os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
state = {}
lock = threading.Lock()

def txn(m):
    with lock:
        done = []
        for f, k, v in m["body"]["txn"]:
            key = str(k)
            if f == "r":
                done.append([f, k, copy.deepcopy(state.get(key))])
            elif f == "append":
                state.setdefault(key, []).append(v)
                done.append([f, k, v])
            else:
                state[key] = v
                done.append([f, k, v])
    node.reply(m, {"type": "txn_ok", "txn": done})

node.on("txn", txn)
node.run()
