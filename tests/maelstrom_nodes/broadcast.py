#!/usr/bin/env python3
"""broadcast: keeps every message it learns, relays new ones to its topology neighbours, and
gossips its whole set to them every 200 ms, so messages cross healed partitions.
Pass --no-relay for the broken variant that only keeps what clients send it (invalid)."""
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

relay = "--no-relay" not in sys.argv
node = Node()
messages = set()
neighbours = []
lock = threading.Lock()

def topology(m):
    global neighbours
    neighbours = m["body"]["topology"].get(node.node_id, [])
    node.reply(m, {"type": "topology_ok"})

def learn(values):
    with lock:
        new = set(values) - messages
        messages.update(new)
    return new

def broadcast(m):
    new = learn([m["body"]["message"]])
    node.reply(m, {"type": "broadcast_ok"})
    if relay and new:
        for n in neighbours:
            node.send(n, {"type": "gossip", "messages": list(new)})

def gossip(m):
    new = learn(m["body"]["messages"])
    if new:
        for n in neighbours:
            if n != m["src"]:
                node.send(n, {"type": "gossip", "messages": list(new)})

def read(m):
    with lock:
        node.reply(m, {"type": "read_ok", "messages": sorted(messages)})

def anti_entropy():
    with lock:
        everything = list(messages)
    if everything:
        for n in neighbours:
            node.send(n, {"type": "gossip", "messages": everything})

node.on("topology", topology)
node.on("broadcast", broadcast)
node.on("gossip", gossip)
node.on("read", read)
if relay:
    node.every(0.2, anti_entropy)
node.run()
