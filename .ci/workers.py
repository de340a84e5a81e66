"""How many pytest-xdist workers `make test` and .ci/floors start: three for each core this
process may run on. Many tests mostly wait (on real workers and servers, on runs a second
apart), so more workers than cores keep the cores busy."""

import os

cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
print(3 * (cores or 1))
