#!/usr/bin/env bash
# Installs the Debian packages softcard's tests and demo need: the real PC/SC stack
# (pcscd + vsmartcard's vpcd), the clients the end-to-end tests drive (OpenSC,
# yubico-piv-tool, pyscard, pcsc-tools, openssl), valgrind for the instruction-count guard
# (scripts/icount), and for the benchmarks SoftHSM2, PyKCS11 and vsmartcard's Python card
# (vpicc).
# Idempotent; needs root for apt-get. Prints what it does.
set -euo pipefail

PKGS=(pcscd libpcsclite-dev libpcsclite1 vsmartcard-vpcd opensc opensc-pkcs11 pcsc-tools
      yubico-piv-tool python3-pyscard softhsm2 openssl libssl-dev pkg-config zlib1g-dev cmake
      valgrind vsmartcard-vpicc python3-pykcs11)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
