#!/usr/bin/env python3
"""lin-kv, broken: serves every request from the node's own local map, so nodes disagree.
Verdict: invalid (with more than one node)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
data = {}

def read(m):
    key = str(m["body"]["key"])
    if key in data:
        node.reply(m, {"type": "read_ok", "value": data[key]})
    else:
        node.reply(m, {"type": "error", "code": 20, "text": "no such key"})

def write(m):
    data[str(m["body"]["key"])] = m["body"]["value"]
    node.reply(m, {"type": "write_ok"})

def cas(m):
    key = str(m["body"]["key"])
    if key not in data:
        node.reply(m, {"type": "error", "code": 20, "text": "no such key"})
    elif data[key] != m["body"]["from"]:
        node.reply(m, {"type": "error", "code": 22, "text": "mismatch"})
    else:
        data[key] = m["body"]["to"]
        node.reply(m, {"type": "cas_ok"})

node.on("read", read)
node.on("write", write)
node.on("cas", cas)
node.run()
