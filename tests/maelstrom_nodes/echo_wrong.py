#!/usr/bin/env python3
"""echo, broken: every fifth answer is upper-cased. Verdict: invalid."""
import os, sys, itertools
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
count = itertools.count(1)
def echo(m):
    payload = m["body"]["echo"]
    if next(count) % 5 == 0:
        payload = payload.upper()
    node.reply(m, {"type": "echo_ok", "echo": payload})
node.on("echo", echo)
node.run()
