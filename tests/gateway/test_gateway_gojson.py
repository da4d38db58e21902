"""Go encoding/json behaviour of the gateway's reader and writer, in process (no server)."""

from __future__ import annotations

import pytest

from etcdlite.gateway.decode import go_base64
from etcdlite.gateway.gojson import GoJSONError, StreamDecoder, decode_first, dumps, unmarshal


def test_writer_escapes_as_go():
    assert dumps({"a": "<&>\u2028\u2029\"\\\n\t\x01\x7f é"}) == \
        '{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029\\"\\\\\\n\\t\\u0001\x7f é"}'
    assert dumps({"n": 5, "b": True, "l": [1, "x"]}) == '{"n":5,"b":true,"l":[1,"x"]}'


def test_strings_decode_like_go():
    assert unmarshal(b'"\\ud83d\\ude00"').data == "\U0001f600"
    assert unmarshal(b'"\\ud83d x"').data == "\ufffd x"  # a lone surrogate
    assert unmarshal(b'"\xe2\x82"').data == "\ufffd\ufffd"  # one per invalid byte
    assert unmarshal(b'"\xed\xa0\x80"').data == "\ufffd\ufffd\ufffd"


def test_numbers_keep_their_text():
    assert unmarshal(b"9007199254740993").data == "9007199254740993"
    assert unmarshal(b"-1.5e+3").data == "-1.5e+3"


def test_deep_nesting_is_refused_not_crashed():
    """Go reads 10000 levels and then says "exceeded max depth"; this reader stops earlier, where
    Python's stack ends (a known difference)."""
    with pytest.raises(GoJSONError):
        unmarshal(b"[" * 10001 + b"]" * 10001)
    assert unmarshal(b"[" * 100 + b"]" * 100).kind == "array"


def test_decoder_reads_values_one_after_another():
    decoder = StreamDecoder()
    decoder.feed(b'{"a":1}{"b"')
    assert decoder.next().raw == b'{"a":1}'
    assert decoder.next() is None  # waits for more
    decoder.feed(b':2} 12')
    assert decoder.next().raw == b'{"b":2}'
    assert decoder.next() is None  # a number may go on
    decoder.finish()
    assert decoder.next().raw == b"12"
    assert decoder.next() is None


def test_decoder_end_of_input():
    assert decode_first(b"  \n") is None
    with pytest.raises(GoJSONError, match="^unexpected EOF$"):
        decode_first(b'{"a":')


@pytest.mark.parametrize("text,result", [(b"YWJj", b"abc"), (b"YWI=", b"ab"), (b"YQ==", b"a"),
                                         (b"Y\r\nQ=\n=", b"a"), (b"", b"")])
def test_base64_accepts(text, result):
    assert go_base64(text) == result


@pytest.mark.parametrize("text,offset", [(b"YQ", 0), (b"YQ=", 3), (b"Y===", 1), (b"YQ==x", 4),
                                         (b"YQ=x", 2), (b"YW_j", 2)])
def test_base64_refuses_at_gos_offset(text, offset):
    with pytest.raises(GoJSONError, match=f"^illegal base64 data at input byte {offset}$"):
        go_base64(text)
