#!/usr/bin/env python3
"""broadcast, broken: forgets to relay (each node keeps only what its clients send).
Verdict: invalid."""
import os, sys
sys.argv.append("--no-relay")
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "broadcast.py")).read())
