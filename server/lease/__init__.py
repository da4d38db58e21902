"""Leases: grant, renew, expire, and the keys attached to them."""
