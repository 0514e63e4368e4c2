#!/usr/bin/env bash
# Install Kumo into ./.venv (and, as root, the Debian packages its local backend uses).
# Usage: scripts/setup.sh [run|test]   — "test" adds what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-run}
PYTHON=${PYTHON:-python3}

debian_packages=(nftables iproute2 busybox-static util-linux e2fsprogs dnsmasq-base dropbear-bin)
debian_packages+=(clang libbpf-dev bpftool)  # the trunk VLAN program (kumo/network/agent/bpf/vlan.c)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for pkg in "${debian_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
extras=""
[ "$want" = test ] && extras="[test]"
stamp=".venv/.installed-$want-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -e "$stamp" ]; then
    echo "setup: installing Kumo${extras:+ with test extras} into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -e ".${extras}"
    .venv/bin/python -m compileall -q kumo >/dev/null  # bytecode once, not at every start
    touch "$stamp"
fi
if command -v clang >/dev/null; then  # the eBPF VLAN program for trunk ports, built from its source
    .venv/bin/python -c "from kumo.network.agent import bpf; bpf.object_file(bpf.SOURCE.parent)" >/dev/null
fi
if [ "$want" = test ]; then  # Tempest (pinned, its own venv): the interop slices, and the tests that read its schemas
    .venv/bin/python -c "from pathlib import Path; from interop import install; install.ensure(Path('.interop/venv'))"
fi
