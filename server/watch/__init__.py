"""The watch hub: etcd's Watch streams, watchers, event delivery, catch-up and progress."""
