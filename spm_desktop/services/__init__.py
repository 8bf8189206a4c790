"""One service per use case; each owns its transactions and audit entries."""
