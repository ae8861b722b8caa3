"""priorlab: measure what reinforcement learning with verifiable rewards adds to a prior.

Pipeline: worlds -> corpus -> pretrain -> (rl) -> evaluate -> diagnostics -> claims -> report.
"""

import os

__version__ = "0.3.0"

# libgomp (torch's OpenMP on CPU) reads its wait settings once, when torch is imported: set them
# here, before any priorlab module imports torch; setdefault, so an explicit value wins; no effect
# when torch was imported first. PASSIVE alone makes a pool thread sleep at once after every
# parallel region, and the next region (microseconds later in a decode step) waits for it to wake:
# the sampler ran slower on 2 threads than on 1. GOMP_SPINCOUNT lets it spin first (100,000 spins;
# it overrides PASSIVE's 0, while PASSIVE still stops spinning when threads outnumber the allowed
# cores). Measured idle on 2 cores: sampler 2.1-2.5x, pretraining 1.5-1.6x, an RL step 2.1x faster;
# pretraining and 1-thread runs keep their bits (2-thread RL runs too since runtime.backward,
# with or without the spin: docs/performance.md).
# Spinning hurts a thread that shares its core with a busy process, which runtime.set_threads
# avoids by following the free cores (docs/performance.md, "Spin, then sleep").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "100000")
