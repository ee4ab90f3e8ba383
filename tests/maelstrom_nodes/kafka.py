#!/usr/bin/env python3
"""kafka: node n1 keeps every log and the committed offsets; the other nodes forward each
request to n1 and relay its answer (an unanswered forward is an indefinite timeout, code 0:
n1 may have acted on it). Verdict: valid. With --local (broken) each node keeps its own logs,
so two nodes give one offset of a key to two different messages: invalid with more than one
node."""
import os, sys, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
logs = {}        # key -> list of messages; a message's offset is its position
committed = {}   # key -> highest committed offset
lock = threading.Lock()


def serve(body):
    kind = body["type"]
    with lock:
        if kind == "send":
            log = logs.setdefault(body["key"], [])
            log.append(body["msg"])
            return {"type": "send_ok", "offset": len(log) - 1}
        if kind == "poll":
            msgs = {}
            for key, start in body["offsets"].items():
                log = logs.get(key, [])
                if start < len(log):
                    msgs[key] = [[o, log[o]] for o in range(start, min(len(log), start + 10))]
            return {"type": "poll_ok", "msgs": msgs}
        if kind == "commit_offsets":
            for key, offset in body["offsets"].items():
                committed[key] = max(committed.get(key, -1), offset)
            return {"type": "commit_offsets_ok"}
        if kind == "list_committed_offsets":
            return {"type": "list_committed_offsets_ok",
                    "offsets": {k: committed[k] for k in body["keys"] if k in committed}}


def handle(m):
    body = dict(m["body"])
    if node.node_id == "n1" or "--local" in sys.argv:
        node.reply(m, serve(body))
        return
    body.pop("msg_id", None)
    answer = node.call("n1", body, timeout=1.0)
    if answer is None:
        node.reply(m, {"type": "error", "code": 0, "text": "n1 did not answer"})
    else:
        answer = dict(answer)
        answer.pop("in_reply_to", None)
        answer.pop("msg_id", None)
        node.reply(m, answer)


for kind in ["send", "poll", "commit_offsets", "list_committed_offsets"]:
    node.on(kind, handle)
node.run()
