"""priorlab: measure what reinforcement learning with verifiable rewards adds to a prior.

Pipeline: worlds -> corpus -> pretrain -> (rl) -> evaluate -> diagnostics -> claims -> report.
"""

__version__ = "0.2.0"
