"""JSON as Go's ``encoding/json`` reads and writes it, for the gateway's exact answers.

etcd's gateway reads a request with ``json.Decoder`` (the first value of the body) and then
``json.Unmarshal`` on pieces of it; a malformed body is answered with the Go scanner's own error
text ("invalid character 'x' looking for beginning of value", "unexpected EOF", …). This module
parses JSON into :class:`Value` trees that keep each value's raw text (numbers stay literals: an
int64 of 2^53+1 is exact, and "1e2" is reported as written) and raises :class:`GoJSONError` with
the text Go would give. It also writes JSON the way Go's encoder does (HTML characters escaped).
"""

from __future__ import annotations

import re

from typing import Iterator

from . import messages

_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b", ord("f"): "\f",
            ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}
#: Go's limit on nested arrays and objects (encoding/json, Go 1.15+)
MAX_DEPTH = 10000
#: what this recursive reader refuses before Python's stack runs out (Go reads up to MAX_DEPTH)
TOO_DEEP = "etcdlite: JSON nested too deeply for the gateway"


class GoJSONError(ValueError):
    """A JSON error, with Go's message as ``str()``."""


class _NeedMore(Exception):
    """The input ended inside a value (the stream decoder waits for more)."""


class Value:
    """A parsed JSON value: ``kind`` is object, array, string, number, bool or null; ``raw`` its
    text; ``data`` a dict (last duplicate key wins), a list, the decoded str, the number literal
    (str) or the bool."""

    __slots__ = ("kind", "raw", "data")

    def __init__(self, kind: str, raw: bytes, data: object) -> None:
        self.kind = kind
        self.raw = raw
        self.data = data

    def __repr__(self) -> str:
        return f"Value({self.kind}, {self.raw!r})"


def go_quote(text: str | bytes) -> str:
    """Go's ``strconv.Quote`` (``%q``): invalid UTF-8 bytes as ``\\xNN``."""
    if isinstance(text, bytes):
        runes = _runes(text)
    else:
        runes = ((char, None) for char in text)
    out = ['"']
    for char, bad in runes:
        if bad is not None:
            out.append(f"\\x{bad:02x}")
        elif char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def _quote_char(byte: int) -> str:
    """How Go's scanner names an offending byte (as the rune of that byte value)."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(byte))[1:-1] + "'"


def _runes(data: bytes) -> Iterator[tuple[str, int | None]]:
    """Decode UTF-8 as Go does: each byte of an invalid sequence is one bad rune."""
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        size = 1 if lead < 0x80 else 2 if 0xC2 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 \
            else 4 if 0xF0 <= lead < 0xF5 else 0
        if size:
            try:
                yield data[i:i + size].decode("utf-8"), None
                i += size
                continue
            except UnicodeDecodeError:
                pass
        yield "\ufffd", lead
        i += 1


def go_utf8(data: bytes) -> str:
    """``data`` as a Go string conversion to runes sees it (invalid bytes become U+FFFD)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(char for char, _ in _runes(data))


class _Parser:
    """Recursive descent over bytes with Go's scanner errors. ``final``: the input is all there
    is (``json.Unmarshal``); otherwise an input that ends inside a value raises _NeedMore."""

    def __init__(self, data: bytes, final: bool) -> None:
        self.data = data
        self.final = final
        self.depth = 0

    def error(self, pos: int, context: str) -> GoJSONError:
        return GoJSONError(f"invalid character {_quote_char(self.data[pos])} {context}")

    def at_end(self, context: str | None) -> GoJSONError | _NeedMore:
        """What the input ending here means: ``context`` is the scanner state's complaint about
        a space (Go feeds one space at the end), None where a space would be fine."""
        if not self.final:
            return _NeedMore()
        if context is not None:
            return GoJSONError(f"invalid character ' ' {context}")
        return GoJSONError(messages.JSON_UNEXPECTED_END)

    def skip_space(self, pos: int) -> int:
        data = self.data
        while pos < len(data) and data[pos] in _SPACE:
            pos += 1
        return pos

    def value(self, pos: int) -> tuple[Value, int]:
        pos = self.skip_space(pos)
        data = self.data
        if pos >= len(data):
            raise self.at_end(None)
        char = data[pos]
        if char == ord("{"):
            return self.obj(pos)
        if char == ord("["):
            return self.array(pos)
        if char == ord('"'):
            end, text = self.string(pos)
            return Value("string", data[pos:end], text), end
        if char == ord("-") or char in _DIGITS:
            end = self.number(pos)
            return Value("number", data[pos:end], data[pos:end].decode("ascii")), end
        for word, kind, result in ((b"true", "bool", True), (b"false", "bool", False),
                                   (b"null", "null", None)):
            if char == word[0]:
                end = self.literal(pos, word)
                return Value(kind, data[pos:end], result), end
        raise self.error(pos, "looking for beginning of value")

    def push(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(pos, "exceeded max depth")

    def obj(self, start: int) -> tuple[Value, int]:
        self.push(start)
        data = self.data
        members: dict[str, Value] = {}
        pos = self.skip_space(start + 1)
        if pos >= len(data):
            raise self.at_end(None)
        if data[pos] == ord("}"):
            self.depth -= 1
            return Value("object", data[start:pos + 1], members), pos + 1
        while True:
            pos = self.skip_space(pos)
            if pos >= len(data):
                raise self.at_end(None)
            if data[pos] != ord('"'):
                raise self.error(pos, "looking for beginning of object key string")
            pos, key = self.string(pos)
            pos = self.skip_space(pos)
            if pos >= len(data):
                raise self.at_end(None)
            if data[pos] != ord(":"):
                raise self.error(pos, "after object key")
            member, pos = self.value(pos + 1)
            members[key] = member
            pos = self.skip_space(pos)
            if pos >= len(data):
                raise self.at_end(None)
            if data[pos] == ord(","):
                pos += 1
                continue
            if data[pos] == ord("}"):
                self.depth -= 1
                return Value("object", data[start:pos + 1], members), pos + 1
            raise self.error(pos, "after object key:value pair")

    def array(self, start: int) -> tuple[Value, int]:
        self.push(start)
        data = self.data
        items: list[Value] = []
        pos = self.skip_space(start + 1)
        if pos >= len(data):
            raise self.at_end(None)
        if data[pos] == ord("]"):
            self.depth -= 1
            return Value("array", data[start:pos + 1], items), pos + 1
        while True:
            item, pos = self.value(pos)
            items.append(item)
            pos = self.skip_space(pos)
            if pos >= len(data):
                raise self.at_end(None)
            if data[pos] == ord(","):
                pos += 1
                continue
            if data[pos] == ord("]"):
                self.depth -= 1
                return Value("array", data[start:pos + 1], items), pos + 1
            raise self.error(pos, "after array element")

    def string(self, start: int) -> tuple[int, str]:
        """The end of the string starting at ``start`` (a quote) and its Go-decoded text."""
        data = self.data
        pos = start + 1
        parts: list[str] = []
        run = pos
        while True:
            pos = _PLAIN_RUN.match(data, pos).end()  # ordinary bytes, at C speed
            if pos >= len(data):
                raise self.at_end(None)
            char = data[pos]
            if char == ord('"'):
                if run < pos:
                    parts.append(go_utf8(data[run:pos]))
                return pos + 1, _join_surrogates(parts)
            if char < 0x20:
                raise self.error(pos, "in string literal")
            if char != ord("\\"):
                pos += 1
                continue
            if run < pos:
                parts.append(go_utf8(data[run:pos]))
            pos += 1
            if pos >= len(data):
                raise self.at_end("in string escape code")
            escape = data[pos]
            if escape in _ESCAPES:
                parts.append(_ESCAPES[escape])
                pos += 1
            elif escape == ord("u"):
                for offset in range(1, 5):
                    if pos + offset >= len(data):
                        raise self.at_end("in \\u hexadecimal character escape")
                    if data[pos + offset] not in _HEX:
                        raise self.error(pos + offset, "in \\u hexadecimal character escape")
                parts.append(_Surrogate(int(data[pos + 1:pos + 5], 16)))
                pos += 5
            else:
                raise self.error(pos, "in string escape code")
            run = pos

    def number(self, start: int) -> int:
        data = self.data
        pos = start
        if data[pos] == ord("-"):
            pos += 1
            if pos >= len(data):
                raise self.at_end("in numeric literal")
            if data[pos] not in _DIGITS:
                raise self.error(pos, "in numeric literal")
        if data[pos] == ord("0"):
            pos += 1
        else:
            while pos < len(data) and data[pos] in _DIGITS:
                pos += 1
        if pos < len(data) and data[pos] == ord("."):
            pos += 1
            if pos >= len(data):
                raise self.at_end("after decimal point in numeric literal")
            if data[pos] not in _DIGITS:
                raise self.error(pos, "after decimal point in numeric literal")
            while pos < len(data) and data[pos] in _DIGITS:
                pos += 1
        if pos < len(data) and data[pos] in b"eE":
            pos += 1
            if pos < len(data) and data[pos] in b"+-":
                pos += 1
            if pos >= len(data):
                raise self.at_end("in exponent of numeric literal")
            if data[pos] not in _DIGITS:
                raise self.error(pos, "in exponent of numeric literal")
            while pos < len(data) and data[pos] in _DIGITS:
                pos += 1
        if pos >= len(data) and not self.final:
            raise _NeedMore()  # the number may go on
        return pos

    def literal(self, start: int, word: bytes) -> int:
        data = self.data
        name = word.decode()
        for offset in range(1, len(word)):
            expecting = f"in literal {name} (expecting {_quote_char(word[offset])})"
            pos = start + offset
            if pos >= len(data):
                raise self.at_end(expecting)
            if data[pos] != word[offset]:
                raise self.error(pos, expecting)
        return start + len(word)


class _Surrogate(int):
    """A ``\\uXXXX`` escape, joined with its neighbour when the two form a UTF-16 pair."""


def _join_surrogates(parts: list) -> str:
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(part, _Surrogate):
            if 0xD800 <= part < 0xDC00 and i + 1 < len(parts) and isinstance(parts[i + 1], _Surrogate) \
                    and 0xDC00 <= parts[i + 1] < 0xE000:
                out.append(chr(0x10000 + ((part - 0xD800) << 10) + (parts[i + 1] - 0xDC00)))
                i += 2
                continue
            out.append("\ufffd" if 0xD800 <= part < 0xE000 else chr(part))
        else:
            out.append(part)
        i += 1
    return "".join(out)


#: bytes a JSON string may hold as they are (no quote, backslash or control character)
_PLAIN_RUN = re.compile(rb'[^"\\\x00-\x1f]*')


def unmarshal(data: bytes) -> Value:
    """``data`` as ``json.Unmarshal`` reads it: one value, only space after it."""
    parser = _Parser(data, final=True)
    try:
        value, end = parser.value(0)
    except RecursionError:
        raise GoJSONError(TOO_DEEP) from None
    end = parser.skip_space(end)
    if end < len(data):
        raise parser.error(end, "after top-level value")
    return value


class StreamDecoder:
    """``json.Decoder`` over a body that arrives in pieces: values one after another."""

    def __init__(self) -> None:
        self._buffer = b""
        self.finished = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def finish(self) -> None:
        """The body has ended."""
        self.finished = True

    def next(self) -> Value | None:
        """The next value; None if more input is needed (or, once finished, at the end of the
        body). A value cut off by the end of the body raises Go's "unexpected EOF"."""
        parser = _Parser(self._buffer, final=self.finished)
        start = parser.skip_space(0)
        if start >= len(self._buffer):
            self._buffer = b""
            return None
        try:
            value, end = parser.value(start)
        except _NeedMore:
            return None
        except RecursionError:
            raise GoJSONError(TOO_DEEP) from None
        except GoJSONError:
            if self.finished and _cut_off(self._buffer, start):
                raise GoJSONError(messages.JSON_UNEXPECTED_EOF) from None
            raise
        self._buffer = self._buffer[end:]
        return value


def _cut_off(data: bytes, start: int) -> bool:
    """Whether the only problem with ``data[start:]`` is that it ends too soon."""
    try:
        _Parser(data[start:], final=False).value(0)
    except _NeedMore:
        return True
    except GoJSONError:
        return False
    return False


def decode_first(body: bytes) -> Value | None:
    """The first value of a complete body, as ``json.Decoder.Decode`` reads it; None for a body of
    only space (Go's io.EOF)."""
    decoder = StreamDecoder()
    decoder.feed(body)
    decoder.finish()
    return decoder.next()


# -- writing ----------------------------------------------------------------------------------

def _string_escapes() -> dict[int, str]:
    table = {code: f"\\u{code:04x}" for code in range(0x20)}
    table.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"',
                  ord("\\"): "\\\\", ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                  0x2028: "\\u2028", 0x2029: "\\u2029"})
    return table


_STRING_ESCAPES = _string_escapes()


def dumps(value: object) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it (dict order kept)."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def _write(value: object, out: list[str]) -> None:
    if isinstance(value, str):
        out.append('"' + value.translate(_STRING_ESCAPES) + '"')
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            _write(key, out)
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
