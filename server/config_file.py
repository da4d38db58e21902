"""etcd's ``--config-file``: a YAML document with etcd's keys (those of etcd's sample etcd.conf.yml,
which are the flag names), read into flag values.

As in etcd, URL lists are comma-separated strings, ``log-outputs`` and ``cipher-suites`` are YAML
lists, durations are integers of nanoseconds (etcdlite also takes Go duration strings such as
``10m``), and TLS settings sit under ``client-transport-security`` / ``peer-transport-security``.
etcd ignores keys it does not know; etcdlite does too, with a warning (see :func:`read`).
"""

from __future__ import annotations

from typing import Any

import yaml

from . import etcd_messages as msg
from .flags import BY_NAME, BY_YAML_KEY, TRANSPORT_SECURITY_KEYS, Flag
from .goflags import GoValueError, parse_duration
from .urls import URLError, url_list


class ConfigFileError(ValueError):
    pass


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_error(key: str, flag: Flag, value: Any) -> ConfigFileError:
    return ConfigFileError(msg.YAML_TYPE.format(json_type=_json_type(value), key=key,
                                                go_type=flag.go_type_name))


def _value(key: str, flag: Flag, value: Any) -> Any:
    kind = flag.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(key, flag, value)
        return value
    if kind in ("int", "uint"):
        if isinstance(value, bool) or not isinstance(value, int) or (kind == "uint" and value < 0):
            raise _type_error(key, flag, value)
        return value
    if kind == "duration":
        if isinstance(value, bool):
            raise _type_error(key, flag, value)
        if isinstance(value, int):
            return value / 1e9
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except GoValueError:
                pass
        raise _type_error(key, flag, value)
    if kind == "strings" and flag.name in ("log-outputs", "log-output", "cipher-suites"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _type_error(key, flag, value)
        return list(value)
    if not isinstance(value, str):
        raise _type_error(key, flag, value)
    if kind == "urls":
        if flag.name == "cors" and value == "*":
            return ["*"]
        try:
            return url_list(value)
        except URLError as exc:
            raise ConfigFileError(msg.YAML_BAD_URLS.format(key=key, error=exc)) from None
    if kind == "strings":
        return flag.convert(value)
    if kind == "choice":
        try:
            return flag.convert(value)
        except GoValueError:
            if flag.name == "initial-cluster-state":
                raise ConfigFileError(msg.UNEXPECTED_CLUSTER_STATE.format(state=value)) from None
            raise ConfigFileError(msg.FLAG_INVALID_VALUE.format(
                value=value, name=flag.name, error=msg.SELECTIVE_INVALID)) from None
    return value


def read(path: str) -> tuple[dict[str, Any], list[str]]:
    """The flag values a config file sets (flag name -> value) and the keys it has that etcd
    does not know. Raises ConfigFileError with etcd's wording."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise ConfigFileError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFileError(msg.YAML_SYNTAX.format(error=" ".join(str(exc).split()))) from None
    if document is None:
        return {}, []
    if not isinstance(document, dict):
        raise ConfigFileError(msg.YAML_TYPE.format(json_type=_json_type(document), key="",
                                                   go_type="embed.configYAML"))
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in document.items():
        key = str(key)
        if key in TRANSPORT_SECURITY_KEYS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigFileError(msg.YAML_TYPE.format(json_type=_json_type(value), key=key,
                                                           go_type="embed.securityConfig"))
            for sub, sub_value in value.items():
                name = TRANSPORT_SECURITY_KEYS[key].get(str(sub))
                if name is None:
                    unknown.append(f"{key}.{sub}")
                elif sub_value is not None:
                    values[name] = _value(f"{key}.{sub}", BY_NAME[name], sub_value)
            continue
        flag = BY_YAML_KEY.get(key)
        if flag is None:
            unknown.append(key)
        elif value is not None:
            values[flag.name] = _value(key, flag, value)
    return values, unknown
