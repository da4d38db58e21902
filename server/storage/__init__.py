"""Persistence of the store: a backend interface, in-memory and LMDB backends, group commit."""
