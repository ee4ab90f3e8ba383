#!/usr/bin/env python3
"""g-counter, broken: counts every add twice (as a retry that is applied again would).
Verdict: invalid."""
import os, sys
sys.argv.append("--double")
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "g_counter.py")).read())
