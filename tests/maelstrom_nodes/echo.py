#!/usr/bin/env python3
"""echo: answers every echo with its payload. Verdict: valid."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
