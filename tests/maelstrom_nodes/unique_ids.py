#!/usr/bin/env python3
"""unique-ids: node id plus a local counter. Verdict: valid."""
import os, sys, itertools
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
count = itertools.count()
node.on("generate", lambda m: node.reply(m, {"type": "generate_ok", "id": f"{node.node_id}-{next(count)}"}))
node.run()
