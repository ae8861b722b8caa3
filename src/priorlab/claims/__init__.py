"""Published claims about RLVR, re-tested on controlled priors (:mod:`~priorlab.claims.result`
holds the result record the report renders)."""
