"""Data package: ships ``clauses.toml`` (the clause catalogue) and the spec text. No code."""
