"""What assay knows before it sees a task: portfolios now, meta-features and past runs later."""
