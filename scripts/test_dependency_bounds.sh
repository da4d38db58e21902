#!/usr/bin/env bash
# Runs the test suite in a fresh virtual environment with the oldest or the newest grpcio and
# protobuf that pyproject.toml allows, to prove both ends of the ranges it states.
#
#   bash scripts/test_dependency_bounds.sh oldest|newest [pytest args...]
#
# The test extra is installed as pyproject.toml lists it, less grpcio-tools (it is pinned to the
# version that generated server/proto, so the freshness test skips here) and, for "oldest", less
# aetcd (aetcd 1.0.0 itself needs grpcio>1.66 and protobuf>=5.26; its tests skip).
set -euo pipefail
cd "$(dirname "$0")/.."

OLDEST_GRPCIO=1.64.0
OLDEST_PROTOBUF=4.25.0

which="${1:?usage: $0 oldest|newest [pytest args...]}"
shift
case "$which" in
    oldest) pins=("grpcio==$OLDEST_GRPCIO" "protobuf==$OLDEST_PROTOBUF"); skip='grpcio-tools|aetcd' ;;
    newest) pins=("grpcio>=1.64,<2" "protobuf>=4.25,<8"); skip='grpcio-tools' ;;
    *) echo "usage: $0 oldest|newest [pytest args...]" >&2; exit 2 ;;
esac

venv="$(mktemp -d)/venv-$which"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
mapfile -t test_deps < <(python3 - "$skip" <<'PY'
import re, sys, tomllib
skip = re.compile(rf"^({sys.argv[1]})\b")
with open("pyproject.toml", "rb") as fh:
    extra = tomllib.load(fh)["project"]["optional-dependencies"]["test"]
print("\n".join(dep for dep in extra if not skip.match(dep)))
PY
)
"$venv/bin/pip" install -q --upgrade "${pins[@]}" "${test_deps[@]}" 'sortedcontainers>=2.4' 'lmdb>=1.4' \
    'google-crc32c>=1.5' 'PyYAML>=6.0' 'bcrypt>=4.0' 'PyJWT>=2.8' 'cryptography>=42' \
    'h11>=0.14' 'prometheus_client>=0.17' 'grpcio-health-checking>=1.62'
"$venv/bin/pip" install -q --no-deps -e .
"$venv/bin/python" -m pip check
"$venv/bin/python" -c 'import sys, grpc, google.protobuf as p; print(sys.argv[1] + ": grpcio " + grpc.__version__ + ", protobuf " + p.__version__)' "$which"
ETCDLITE_DEPENDENCY_BOUNDS="$which" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
