"""priorlab: measure what reinforcement learning with verifiable rewards adds to a prior.

Pipeline: worlds -> corpus -> pretrain -> (rl) -> evaluate -> diagnostics -> claims -> report.
"""

import os

__version__ = "0.3.0"

# libgomp (torch's OpenMP on CPU) reads its wait policy once, when torch is imported: set it
# here, before any priorlab module imports torch. The default spins idle pool threads for a
# while; on a core shared with another process that spinning starves the thread doing the work
# (measured: 2-thread pretraining 4-13x slower than with PASSIVE under load, docs/performance.md).
# setdefault: an explicit OMP_WAIT_POLICY wins. No effect when torch was imported first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
