#!/usr/bin/env bash
# Installs the Debian packages softcard's tests and demo need: the real PC/SC stack
# (pcscd + vsmartcard's vpcd), the clients the end-to-end tests drive (OpenSC,
# yubico-piv-tool, pyscard, pcsc-tools, openssl) and SoftHSM2 for the benchmarks; then the
# cargo tools the packaging checks use, at pinned versions, each only when that version is
# not on PATH already (`cargo install --locked`): cargo-deb (the Debian package) and
# cargo-deny (licenses, bans, sources, advisories).
# Idempotent; needs root for apt-get. Prints what it does.
set -euo pipefail

PKGS=(pcscd libpcsclite-dev libpcsclite1 vsmartcard-vpcd opensc opensc-pkcs11 pcsc-tools
      yubico-piv-tool python3-pyscard softhsm2 openssl libssl-dev pkg-config zlib1g-dev cmake
      dpkg-dev binutils)

# cargo tools: name, pinned version.
CARGO_TOOLS=("cargo-deb 3.8.0" "cargo-deny 0.20.2")

install_cargo_tools() {
    command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
    local tool name version
    for tool in "${CARGO_TOOLS[@]}"; do
        read -r name version <<<"$tool"
        if "$name" --version 2>/dev/null | grep -qw "$version"; then
            continue
        fi
        echo "install-deps: cargo install --locked $name --version $version"
        cargo install --locked --quiet "$name" --version "$version"
    done
}

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    install_cargo_tools
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
install_cargo_tools
echo "install-deps: done"
