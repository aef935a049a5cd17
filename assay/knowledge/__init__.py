"""What assay knows before it sees a task: meta-features of past tasks and their trials
(store.py, metafeatures.py), the portfolio learnt from them (build.py, corpus.py, portfolios/),
and the warm start that reuses them (warmstart.py)."""
