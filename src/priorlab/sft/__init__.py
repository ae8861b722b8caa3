"""Supervised fine-tuning of a prior (``priorlab sft``): distillation from a teacher checkpoint,
verifier-filtered (rejection-sampling) fine-tuning, or demonstrations rendered by the world."""
