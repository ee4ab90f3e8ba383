#!/usr/bin/env python3
"""echo, and a node that does not notice its harness is gone: when stdin closes it lingers
for ten minutes instead of exiting. For the test that `faultline heal` ends such nodes."""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node import Node

node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
time.sleep(600)
