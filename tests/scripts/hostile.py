"""A trial with hostile output, for tests. Modes:

big       200 MB of output in 64 KiB lines, then the objective
binary    5 MB of random bytes (NUL, invalid UTF-8), then the objective inside invalid UTF-8
longline  one 10 MB line without a newline, then the objective
"""

import os
import random
import sys

mode = sys.argv[1]
out = sys.stdout.buffer
if mode == "big":
    line = b"x" * 65535 + b"\n"
    for _ in range(3200):
        out.write(line)
    out.write(b"loss=0.25\n")
elif mode == "binary":
    rng = random.Random(0)
    out.write(rng.randbytes(5 * 1024 * 1024))
    out.write(b"\n\xff\xfe loss=0.5 \xc3\x28\n")
elif mode == "longline":
    chunk = b"y" * (1024 * 1024)
    for _ in range(10):
        out.write(chunk)
    out.write(b"\nloss=0.75\n")
out.flush()
os._exit(0)
