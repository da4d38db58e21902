"""The private protobuf descriptor pool used by all of etcdlite's generated modules.

Why not the default pool: python protobuf keeps one process-wide default
``DescriptorPool``, and every ordinary ``*_pb2.py`` registers its file there. Client
libraries such as python-etcd3 and aetcd ship their own generated copies of etcd's
protos with the very same proto packages and message names (``etcdserverpb``,
``mvccpb``, ``authpb``). If etcdlite registered ``etcdserverpb.RangeRequest`` or
``mvccpb.KeyValue`` in the default pool too, importing both sets in one interpreter
(the typical case: an etcdlite server embedded as a pytest fixture, exercised with
python-etcd3) would fail with ``TypeError: Couldn't build proto file into descriptor
pool: duplicate symbol 'mvccpb.KeyValue'``.

``scripts/gen_protos.py`` therefore rewrites the generated modules to call
``POOL.AddSerializedFile(...)`` instead of ``descriptor_pool.Default()...``, and to
build their message classes with :func:`BuildTopDescriptorsAndMessages` below instead
of ``google.protobuf.internal.builder``'s. The stock builder registers every class in
the *default* ``symbol_database``; with the upb backend that only fills a dict, but with
the pure-Python backend (``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python``) it also adds
the descriptor to the default pool and raises ``TypeError: Conflict register ...`` when
another file already defines ``mvccpb.KeyValue`` (or silently replaces the other
library's entry when the file names happen to match).

Message classes built this way encode and decode exactly like any other etcd stubs (the
wire format carries field numbers, not names); they are simply distinct Python
classes/descriptors from the ones a client library may have loaded.

Consequences for code in this package:

* never look etcd types up through ``descriptor_pool.Default()`` or
  ``symbol_database.Default()``; use the generated modules or ``POOL`` itself;
* the generated ``*_pb2_grpc.py`` helpers pass explicit (de)serializers of our
  classes to grpcio, so no pool lookup happens at RPC time either.
"""

from google.protobuf import descriptor_pool
from google.protobuf import message as _message
from google.protobuf import reflection as _reflection
from google.protobuf import symbol_database
from google.protobuf.internal import enum_type_wrapper

__all__ = ["POOL", "SYMBOL_DB", "BuildTopDescriptorsAndMessages"]

#: Holds kv.proto, auth.proto, rpc.proto, v3lock.proto, v3election.proto and etcdlite's own
#: etcdlite_admin.proto (file names as in ``protos/``) and nothing else.
POOL = descriptor_pool.DescriptorPool()

#: Symbol database over :data:`POOL`; the generated modules register their classes here.
SYMBOL_DB = symbol_database.SymbolDatabase(pool=POOL)


def _build_message(module_name, msg_des, prefix):
    create_dict = {
        name: _build_message(module_name, nested, prefix + msg_des.name + ".")
        for name, nested in msg_des.nested_types_by_name.items()
    }
    create_dict["DESCRIPTOR"] = msg_des
    create_dict["__module__"] = module_name
    create_dict["__qualname__"] = prefix + msg_des.name
    message_class = _reflection.GeneratedProtocolMessageType(
        msg_des.name, (_message.Message,), create_dict
    )
    SYMBOL_DB.RegisterMessage(message_class)
    return message_class


def BuildTopDescriptorsAndMessages(file_des, module_name, module):  # noqa: N802 (builder API name)
    """Same as ``google.protobuf.internal.builder.BuildTopDescriptorsAndMessages``
    (protobuf 6.31 through 7.x), except that classes are registered in
    :data:`SYMBOL_DB` rather than the default symbol database."""
    for name, enum_des in file_des.enum_types_by_name.items():
        module["_" + name.upper()] = enum_des
        module[name] = enum_type_wrapper.EnumTypeWrapper(enum_des)
        for enum_value in enum_des.values:
            module[enum_value.name] = enum_value.number
    for name, extension_des in file_des.extensions_by_name.items():
        module[name.upper() + "_FIELD_NUMBER"] = extension_des.number
        module[name] = extension_des
    for name, service in file_des.services_by_name.items():
        module["_" + name.upper()] = service
    for name, msg_des in file_des.message_types_by_name.items():
        module[name] = _build_message(module_name, msg_des, "")
