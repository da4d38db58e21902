"""The multi-version key-value store: revisions, per-key history, Range/Put/DeleteRange/Txn/Compact.

Plain Python with no gRPC and no protobuf in it; :mod:`etcdlite.mvcc.store` is the entry point.
"""
