#!/usr/bin/env python3
"""g-set, broken: each node keeps the elements added through it and never gossips them, so
the final reads of the other nodes miss them. Verdict: invalid (with more than one node)."""
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

def read(m):
    with lock:
        node.reply(m, {"type": "read_ok", "value": sorted(elements)})

node.on("add", add)
node.on("read", read)
node.run()
