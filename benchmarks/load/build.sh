#!/usr/bin/env bash
# Build the etcdload load generator OFFLINE from Debian's Go packages.
#   apt-get install -y golang-go golang-google-grpc-dev
# Output: benchmarks/load/bin/etcdload
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found; run: apt-get install -y golang-go golang-google-grpc-dev" >&2
    exit 1
fi
if [ ! -d /usr/share/gocode/src/google.golang.org/grpc ]; then
    echo "build.sh: grpc-go sources missing; run: apt-get install -y golang-google-grpc-dev" >&2
    exit 1
fi
mkdir -p "$here/bin"
cd "$here"
# GOPATH mode: resolve imports from Debian's /usr/share/gocode, no network, no go.mod.
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off GOCACHE="${GOCACHE:-/tmp/etcdload-gocache}" \
    go build -trimpath -o "$here/bin/etcdload" .
echo "built $here/bin/etcdload"
