"""The .proto sources of etcd's API and of etcdlite's admin service, shipped with the package
(``importlib.resources.files("etcdlite.protos")``) for clients in other languages."""
