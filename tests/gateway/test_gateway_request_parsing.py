"""How the gateway reads a request body, dual-target: what etcd 3.4.23 and 3.5.1 accept (golang
jsonpb: proto or lowerCamel names, integers as numbers or strings, bytes in padded standard base64,
enums by name or number) and the exact 400 answer (code 3, Go's error text) for what they refuse.
All answers observed identically on both releases but for the error body's field order (see
``error_body``)."""

from __future__ import annotations

import pytest

from gateway_helpers import b64, error_body, request

KEY = b64("k")


def _range(target, body: bytes):
    return request(target, "/v3/kv/range", body)


@pytest.fixture
def seeded(target):
    """A server with k=v (revision 2) and k2=v2 (revision 3)."""
    for key, value in ((b"k", b"v"), (b"k2", b"v2")):
        answer = request(target, "/v3/kv/put",
                         f'{{"key":"{b64(key)}","value":"{b64(value)}"}}'.encode())
        assert answer.status == 200, answer.body
    return target


def _keys(answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [kv["key"] for kv in answer.json().get("kvs", [])]


ACCEPTED = [
    # (body, keys found)
    (b'{"key":"aw=="}', ["aw=="]),
    (b'{"key":"aw=="} trailing garbage is never read', ["aw=="]),
    (b'  {"key":"aw=="}', ["aw=="]),
    (b'{"key":"aw==","Key":"eA=="}', ["aw=="]),  # field names are case-sensitive
    (b'{"key":"aw==","unknown":{"a":[1,null]}}', ["aw=="]),
    (b'{"key":"aw==","range_end":"AA=="}', ["aw==", "azI="]),
    (b'{"key":"aw==","rangeEnd":"AA=="}', ["aw==", "azI="]),  # lowerCamel
    # the lowerCamel name wins over the proto name, also when it is null ("not given")
    (b'{"key":"aw==","range_end":"AA==","rangeEnd":null}', ["aw=="]),
    (b'{"key":"aw==","range_end":"AA==","limit":"1"}', ["aw=="]),
    (b'{"key":"aw==","range_end":"AA==","limit":1}', ["aw=="]),
    (b'{"key":"aw==","range_end":"AA==","limit":" 1 "}', ["aw=="]),
    (b'{"key":"aw==","range_end":"AA==","limit":"null"}', ["aw==", "azI="]),
    (b'{"key":"aw==","range_end":"AA==","limit":"-0"}', ["aw==", "azI="]),
    (b'{"key":"aw==","range_end":"AA==","sort_order":"DESCEND"}', ["azI=", "aw=="]),
    (b'{"key":"aw==","range_end":"AA==","sort_order":2}', ["azI=", "aw=="]),
    (b'{"key":"aw==","range_end":"AA==","sortOrder":"DESCEND","sort_target":"VALUE"}',
     ["azI=", "aw=="]),
    (b'{"key":[107]}', ["aw=="]),  # bytes as an array of byte values
    (b'{"key":"a\\nw=="}', ["aw=="]),  # base64 skips newlines
    (b'{"key":"aw==\\r\\n"}', ["aw=="]),
    (b'{"key":"\\u0061w=="}', ["aw=="]),
    (b'{"key":"aw==","serializable":true}', ["aw=="]),
    (b'{"key":"aw==","serializable":null}', ["aw=="]),
    (b'{"key":"aw==","count_only":false}', ["aw=="]),
    (b'{"key":"eA=="}', []),
]


@pytest.mark.parametrize("body,keys", ACCEPTED, ids=[repr(b)[2:40] for b, _ in ACCEPTED])
def test_accepted_request_forms(seeded, body, keys):
    assert _keys(_range(seeded, body)) == keys


def test_empty_request_forms_are_the_empty_request(target):
    expected = error_body(3, "etcdserver: key is not provided", target.etcd_version)
    for body in (b"", b"   ", b"\n", b"null", b"{}", b'{"key":null}', b'{"Key":"aw=="}'):
        answer = _range(target, body)
        assert (answer.status, answer.body) == (400, expected), body


def test_int64_keeps_all_64_bits(target):
    """2^53+1 as a JSON number and as a string: both exact (no float on the way)."""
    for body in (b'{"ID":9007199254740993,"TTL":60}', b'{"ID":"9007199254740995","TTL":"60"}'):
        answer = request(target, "/v3/lease/grant", body)
        assert answer.status == 200, answer.body
        wanted = body.split(b":")[1].split(b",")[0].strip(b'"').decode()
        assert answer.json()["ID"] == wanted


REFUSED = [
    # (body, Go's error text)
    (b'[1]', "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"),
    (b'"x"', "json: cannot unmarshal string into Go value of type map[string]json.RawMessage"),
    (b'1', "json: cannot unmarshal number into Go value of type map[string]json.RawMessage"),
    (b'true', "json: cannot unmarshal bool into Go value of type map[string]json.RawMessage"),
    (b'{"key":1}', "json: cannot unmarshal number into Go value of type []uint8"),
    (b'{"key":{}}', "json: cannot unmarshal object into Go value of type []uint8"),
    (b'{"key":"Zm9v"', "unexpected EOF"),
    (b'tru', "unexpected EOF"),
    (b'[[[', "unexpected EOF"),
    (b'{"key":"Zm9"}', "illegal base64 data at input byte 0"),
    (b'{"key":"Zm8"}', "illegal base64 data at input byte 0"),
    (b'{"key":"Zm9v_"}', "illegal base64 data at input byte 4"),
    (b'{"key":"Zm9v-w=="}', "illegal base64 data at input byte 4"),
    (b'{"key":"YQ="}', "illegal base64 data at input byte 3"),
    (b'{"key":"=="}', "illegal base64 data at input byte 0"),
    (b'{"key":"YQ==YQ=="}', "illegal base64 data at input byte 4"),
    (b'{"key":[256]}', "json: cannot unmarshal number 256 into Go value of type uint8"),
    (b'{"key":[-1]}', "json: cannot unmarshal number -1 into Go value of type uint8"),
    (b'{"key":["a"]}', "json: cannot unmarshal string into Go value of type uint8"),
    (b'{"limit":1.5}', "json: cannot unmarshal number 1.5 into Go value of type int64"),
    (b'{"limit":1e2}', "json: cannot unmarshal number 1e2 into Go value of type int64"),
    (b'{"limit":"1e2"}', "json: cannot unmarshal number 1e2 into Go value of type int64"),
    (b'{"limit":1.0}', "json: cannot unmarshal number 1.0 into Go value of type int64"),
    (b'{"limit":99999999999999999999}',
     "json: cannot unmarshal number 99999999999999999999 into Go value of type int64"),
    (b'{"limit":9223372036854775808}',
     "json: cannot unmarshal number 9223372036854775808 into Go value of type int64"),
    (b'{"limit":true}', "json: cannot unmarshal bool into Go value of type int64"),
    (b'{"limit":[1]}', "json: cannot unmarshal array into Go value of type int64"),
    (b'{"limit":"abc"}', "invalid character 'a' looking for beginning of value"),
    (b'{"limit":"+5"}', "invalid character '+' looking for beginning of value"),
    (b'{"limit":"0x10"}', "invalid character 'x' after top-level value"),
    (b'{"limit":""}', "unexpected end of JSON input"),
    (b'{"limit":"1."}', "invalid character ' ' after decimal point in numeric literal"),
    (b'{"limit":"tru"}', "invalid character ' ' in literal true (expecting 'e')"),
    (b'{"limit":"-"}', "invalid character ' ' in numeric literal"),
    (b'{"serializable":"true"}', "json: cannot unmarshal string into Go value of type bool"),
    (b'{"serializable":1}', "json: cannot unmarshal number into Go value of type bool"),
    (b'{"key":"YQ==", "x": tru}', "invalid character '}' in literal true (expecting 'e')"),
    (b'{"key":"YQ==" "a"}', "invalid character '\"' after object key:value pair"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{1:2}', "invalid character '1' looking for beginning of object key string"),
    (b'"\\x01"', "invalid character 'x' in string escape code"),
    (b'\x01', "invalid character '\\x01' looking for beginning of value"),
    (b'xyz', "invalid character 'x' looking for beginning of value"),
    (b'[1,]', "invalid character ']' looking for beginning of value"),
    (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
    (b'{"a":01}', "invalid character '1' after object key:value pair"),
    (b'{"a":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"),
    (b'{"a":"\x01"}', "invalid character '\\x01' in string literal"),
    (b'{"a":-x}', "invalid character 'x' in numeric literal"),
    (b'{"a":1.x}', "invalid character 'x' after decimal point in numeric literal"),
    (b'{"a":1ex}', "invalid character 'x' in exponent of numeric literal"),
    (b'{"a":nul}', "invalid character '}' in literal null (expecting 'l')"),
    (b'{"a":fals}', "invalid character '}' in literal false (expecting 'e')"),
]


@pytest.mark.parametrize("body,message", REFUSED, ids=[repr(b)[2:40] for b, _ in REFUSED])
def test_refused_request_forms(target, body, message):
    answer = _range(target, body)
    assert answer.status == 400
    assert answer.header("content-type") == "application/json"
    assert answer.body == error_body(3, message, target.etcd_version)


def test_unknown_enum_name(target):
    """3.5.1 (golang/protobuf 1.4+) quotes the raw JSON and names the enum by its full proto name;
    3.4.23 quotes the bare name and uses the Go type name."""
    answer = _range(target, b'{"key":"aw==","sort_order":"FOO"}')
    if target.etcd_version == "3.4":
        message = 'unknown value "FOO" for enum etcdserverpb.RangeRequest_SortOrder'
    else:
        message = 'unknown value "\\"FOO\\"" for enum etcdserverpb.RangeRequest.SortOrder'
    assert (answer.status, answer.body) == (400, error_body(3, message, target.etcd_version))


def test_enum_number_must_be_an_integer(target):
    answer = _range(target, b'{"key":"aw==","sort_order":1.5}')
    go_type = "etcdserverpb.RangeRequest_SortOrder" if target.etcd_version == "3.4" \
        else "protoreflect.EnumNumber"
    message = f"json: cannot unmarshal number 1.5 into Go value of type {go_type}"
    assert (answer.status, answer.body) == (400, error_body(3, message, target.etcd_version))


def test_uint64_refuses_negative_numbers(target):
    answer = request(target, "/v3/cluster/member/remove", b'{"ID":"-1"}')
    message = "json: cannot unmarshal number -1 into Go value of type uint64"
    assert (answer.status, answer.body) == (400, error_body(3, message, target.etcd_version))


def test_nested_messages_and_oneofs(seeded):
    """A txn with nested requests in both name styles; null members are "not given" (3.4.23's
    older jsonpb sets a oneof member given as null to an empty request instead, unless the other
    member of the same object comes after it in Go's random map order: either answer there)."""
    body = (b'{"compare":[{"key":"aw==","target":"VALUE","result":"EQUAL","value":"dg=="}],'
            b'"success":[{"requestRange":{"key":"aw=="}},{"request_put":null,'
            b'"request_range":{"key":"azI="}}],"failure":null}')
    answer = request(seeded, "/v3/kv/txn", body)
    if seeded.etcd_version == "3.4" and answer.status == 400:
        assert answer.body == error_body(3, "etcdserver: key not found", "3.4")
        return
    assert answer.status == 200, answer.body
    reply = answer.json()
    assert reply["succeeded"] is True
    assert [r["response_range"]["kvs"][0]["key"] for r in reply["responses"]] == ["aw==", "azI="]


def test_strings_decode_escapes_and_utf8(target):
    """User names: JSON escapes and surrogate pairs decode; answers escape <, > and & as Go does."""
    answer = request(target, "/v3/auth/user/add",
                     b'{"name":"\\u00e9\\ud83d\\ude00<&>","password":"p"}')
    assert answer.status == 200, answer.body
    listed = request(target, "/v3/auth/user/list", b"")
    assert b'"users":["\xc3\xa9\xf0\x9f\x98\x80\\u003c\\u0026\\u003e"]' in listed.body
