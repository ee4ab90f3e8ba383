#!/usr/bin/env python3
"""unique-ids, broken: a local counter without the node id, so nodes hand out the same ids.
Verdict: invalid."""
import os, sys, itertools
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
count = itertools.count()
node.on("generate", lambda m: node.reply(m, {"type": "generate_ok", "id": next(count)}))
node.run()
