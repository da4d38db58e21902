"""Authentication and authorization: the auth store (users, roles, permissions), tokens and
password hashes. Plain Python: the request path asks it, transports never see it."""
