#!/usr/bin/env bash
# Installs the Debian packages Kota's tests need (Chromium for the browser tests,
# coturn for the TURN tests, nftables for the weak-link test, nginx for the test of
# deploy/nginx/kota.conf) when they are missing.
# Needs root or sudo.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v turnserver >/dev/null 2>&1 || missing+=(coturn)
command -v nft >/dev/null 2>&1 || missing+=(nftables)  # the weak-link test (tests/network)
command -v tc >/dev/null 2>&1 || missing+=(iproute2)  # ip and tc, the same test
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)  # tests/server/test_nginx_config.py
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the same test's certificate
# The access report PDF prints with DejaVu Sans (Sámi letters: č đ ŋ š ŧ ž á).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
