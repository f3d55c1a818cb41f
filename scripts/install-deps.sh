#!/bin/sh
# Installs everything Backstop needs to build and test, from Debian 12 packages only.
set -eu
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a test peer: no local mail system is configured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
PKGS="
 build-essential pkg-config meson ninja-build
 dpdk-dev libdpdk-dev libhyperscan-dev libpcap-dev
 libbpf-dev libxdp-dev bpftool clang llvm linux-libc-dev
 python3 python3-scapy tcpdump iproute2 jq
 postfix swaks python3-aiosmtpd libidn12 openssl
"
if [ "${BACKSTOP_SKIP_APT:-}" != 1 ]; then
  missing=""
  for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    apt-get update
    apt-get install -y --no-install-recommends $missing
  fi
fi
