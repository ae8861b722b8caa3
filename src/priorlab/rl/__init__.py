"""RLVR building blocks: advantage estimators and policy losses (pure, registered functions).

The trainer loop (rollout -> reward -> advantage -> loss -> step) is issue 3's remaining work.
"""
