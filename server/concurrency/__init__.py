"""Locks and elections: etcd's v3lock and v3election recipes, run inside the server."""
