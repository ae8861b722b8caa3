"""``priorlab rlp``: RL as a pretraining objective (information-gain reward on thoughts, arXiv 2510.01265)."""
