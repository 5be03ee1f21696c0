#!/usr/bin/env bash
# Installs the Debian packages softcard's tests and demo need: the real PC/SC stack
# (pcscd + vsmartcard's vpcd), the clients the end-to-end tests drive (OpenSC,
# yubico-piv-tool, pyscard, pcsc-tools, openssl), valgrind for the instruction-count guard
# (scripts/icount), for the benchmarks SoftHSM2, PyKCS11 and vsmartcard's Python card
# (vpicc), and the YubiKey ecosystem's test suites (Go with Debian's piv-go, ykcs11; then
# `scripts/yubikey-suites install` fetches yubikey-manager from PyPI and the `yubikey` crate
# from crates.io and builds the suites once), for the Web Enrollment tests of `softcard ca`
# Debian's chromium and chromium-driver and a venv with the Python certsrv package and
# Selenium (PyPI); python3-yaml (scripts/check-ci-snippets) and swig (pyscard built from
# PyPI in scripts/test-python-fixture's venv); then the cargo tools the packaging checks
# use, at pinned versions, each only when that version is not on PATH already (`cargo
# install --locked`): cargo-deb (the Debian package) and cargo-deny (licenses, bans,
# sources, advisories). Idempotent; needs root for apt-get. Prints what it does.
set -euo pipefail

PKGS=(pcscd libpcsclite-dev libpcsclite1 vsmartcard-vpcd opensc opensc-pkcs11 pcsc-tools
      yubico-piv-tool python3-pyscard softhsm2 openssl libssl-dev pkg-config zlib1g-dev cmake
      valgrind vsmartcard-vpicc python3-pykcs11
      python3-venv python3-dev gcc golang-go golang-github-go-piv-piv-go-dev ykcs11
      dpkg-dev binutils chromium chromium-driver python3-yaml swig)
# The suites' pinned versions (Debian 12): the compatibility matrix names them.
PINNED=(golang-github-go-piv-piv-go-dev=1.8.0-3 ykcs11=2.2.0-1.1)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
else
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages: ${missing[*]}" >&2
        echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" "${PINNED[@]}" >/dev/null
fi
for p in "${PINNED[@]}"; do
    have=$(dpkg-query -W -f='${Version}' "${p%%=*}")
    [ "$have" = "${p#*=}" ] || echo "install-deps: warning: ${p%%=*} is $have, the suites were recorded with ${p#*=}" >&2
done
"$(dirname "$0")/yubikey-suites" install

# The Python `certsrv` package (an AD CS Web Enrollment client) and Selenium (which drives
# chromium through chromedriver) from PyPI, pinned, in a venv of their own, for
# tests/tests/ca_certsrv.rs and ca_browser.rs (which find it at the same place).
CERTSRV_VERSION=2.1.1
SELENIUM_VERSION=4.51.0
CERTSRV_VENV=${SOFTCARD_CERTSRV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/softcard-certsrv-venv}
if ! "$CERTSRV_VENV/bin/python" -c "import certsrv, selenium, sys; sys.exit(certsrv.__version__ != '$CERTSRV_VERSION' or selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null; then
    echo "install-deps: certsrv $CERTSRV_VERSION, selenium $SELENIUM_VERSION (PyPI) in $CERTSRV_VENV"
    /usr/bin/python3 -m venv "$CERTSRV_VENV"
    "$CERTSRV_VENV/bin/pip" install -q --no-input "certsrv==$CERTSRV_VERSION" "selenium==$SELENIUM_VERSION"
fi

# cargo tools: name, pinned version.
CARGO_TOOLS=("cargo-deb 3.8.0" "cargo-deny 0.20.2")
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
for tool in "${CARGO_TOOLS[@]}"; do
    read -r name version <<<"$tool"
    if ! "$name" --version 2>/dev/null | grep -qw "$version"; then
        echo "install-deps: cargo install --locked $name --version $version"
        cargo install --locked --quiet "$name" --version "$version"
    fi
done
echo "install-deps: done"
