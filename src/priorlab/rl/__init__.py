"""RLVR building blocks: advantage estimators and policy losses (pure, registered functions).

Rewards, advantage estimators and losses are registries of pure functions; the trainer loop
(rollout -> reward -> advantage -> loss -> step) is still to come.
"""
