#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, and nothing that is
# already there. Idempotent; safe to run on every `make test`.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
want() { # want COMMAND PACKAGE
  have "$1" || need_pkgs+=("$2")
}
want /usr/lib/frr/bgpd frr
[ -x /usr/lib/frr/bgpd ] || need_pkgs+=(frr)
want gobgpd gobgpd
want tshark tshark
want tcpdump tcpdump
want bird bird2
want exabgp exabgp
want ping iputils-ping
want arping arping
want qemu-system-x86_64 qemu-system-x86
want xz xz-utils
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_pkgs+=(fonts-dejavu-core)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
python3 -c 'import scapy' 2>/dev/null || need_pkgs+=(python3-scapy)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  # dedupe
  mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing ${need_pkgs[*]} and not root; install them with apt-get" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# FRR's packaged service must not run on the host: tests start their own
# instances inside namespaces.
if have systemctl && systemctl is-active --quiet frr 2>/dev/null; then systemctl stop frr || true; fi

if ! have cargo-fuzz; then
  echo "install-test-deps: cargo install cargo-fuzz (about 3 minutes, once)"
  cargo install cargo-fuzz --locked --quiet
fi
echo "install-test-deps: ok"
