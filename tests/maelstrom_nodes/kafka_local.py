#!/usr/bin/env python3
"""kafka, broken: each node keeps its own logs, so two nodes give one offset of a key to two
different messages, and a poll on one node never sees what was sent to another.
Verdict: invalid (with more than one node)."""
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
logs = {}
committed = {}
lock = threading.Lock()


def send(m):
    with lock:
        log = logs.setdefault(m["body"]["key"], [])
        log.append(m["body"]["msg"])
        node.reply(m, {"type": "send_ok", "offset": len(log) - 1})


def poll(m):
    with lock:
        msgs = {k: [[o, logs[k][o]] for o in range(s, len(logs[k]))]
                for k, s in m["body"]["offsets"].items() if s < len(logs.get(k, []))}
    node.reply(m, {"type": "poll_ok", "msgs": msgs})


def commit(m):
    with lock:
        committed.update(m["body"]["offsets"])
    node.reply(m, {"type": "commit_offsets_ok"})


def list_committed(m):
    with lock:
        offsets = {k: committed[k] for k in m["body"]["keys"] if k in committed}
    node.reply(m, {"type": "list_committed_offsets_ok", "offsets": offsets})


node.on("send", send)
node.on("poll", poll)
node.on("commit_offsets", commit)
node.on("list_committed_offsets", list_committed)
node.run()
