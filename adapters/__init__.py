"""mqspec.adapters: backends behind one adapter contract."""
