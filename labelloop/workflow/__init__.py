"""Where the pure rooms meet the store: each user action is one transaction with its audit row."""
