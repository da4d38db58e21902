from etcdlite.proto import rpc_pb2


def test_first_put_creates_revision_two(target):
    response = target.kv.Put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
    assert response.header.revision == 2
    assert response.header.member_id == 0x8E9E05C52164694D
    assert response.header.cluster_id == 0xCDF818194E3A8C32
    got = target.kv.Range(rpc_pb2.RangeRequest(key=b"a"))
    assert [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) for kv in got.kvs] == [
        (b"a", b"1", 2, 2, 1)]
