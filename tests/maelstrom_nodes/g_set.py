#!/usr/bin/env python3
"""g-set: a grow-only set replicated by gossiping the whole set to every node. Valid.
With --no-gossip (broken) each node keeps what was added through it, so the final reads of
the other nodes miss it: invalid with more than one node."""
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
elements = set()
lock = threading.Lock()

def add(m):
    with lock:
        elements.add(m["body"]["element"])
    node.reply(m, {"type": "add_ok"})

def merge(m):
    with lock:
        elements.update(m["body"]["value"])

def read(m):
    with lock:
        node.reply(m, {"type": "read_ok", "value": sorted(elements)})

def gossip():
    with lock:
        value = list(elements)
    for n in node.node_ids:
        if n != node.node_id:
            node.send(n, {"type": "replicate", "value": value})

node.on("add", add)
node.on("replicate", merge)
node.on("read", read)
if "--no-gossip" not in sys.argv:
    node.every(0.2, gossip)
node.run()
