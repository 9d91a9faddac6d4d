#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time and peak RSS as one JSON line on stderr.

Usage: rusage.py CMD [ARGS...]. The command's own output passes through; the exit status is
the command's. getrusage(RUSAGE_CHILDREN) covers the command and everything it waited for.
"""
import json
import resource
import subprocess
import sys
import time

start = time.monotonic()
proc = subprocess.run(sys.argv[1:])
wall = time.monotonic() - start
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write("RUSAGE " + json.dumps({
    "wallMs": round(wall * 1000),
    "cpuMs": round((ru.ru_utime + ru.ru_stime) * 1000),
    "peakRssMB": round(ru.ru_maxrss / 1024, 1),
    "code": proc.returncode,
}) + "\n")
sys.exit(proc.returncode)
