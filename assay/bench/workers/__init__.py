"""Scripts run by a peer's own python (see assay.bench.peers); nothing here imports assay."""
