"""A live, read-only view of the server in the browser (``/ui/`` on the client URL)."""
