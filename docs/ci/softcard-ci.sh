#!/usr/bin/env bash
# softcard in a CI job, as a plain shell script: a PIV card gets a key (yubico-piv-tool)
# and a certificate for it from a throw-away CA (openssl), then OpenSC's PKCS#11 module signs with it and openssl checks the
# signature; a wrong PIN must fail with CKR_PIN_INCORRECT. Two ways:
#
#   softcard-ci.sh exec    no daemon: each program runs under `softcard exec`
#   softcard-ci.sh serve   the card in the machine's pcscd (with vsmartcard's vpcd driver,
#                          which must be running: Debian and Ubuntu packages pcscd and
#                          vsmartcard-vpcd), served by `softcard serve`
#
# Needs softcard, OpenSC (opensc-tool, pkcs11-tool), yubico-piv-tool and openssl on PATH;
# OPENSC_PKCS11 names OpenSC's PKCS#11 module if it is not where Debian puts it. Works in
# a folder of its own (the current one, or $SOFTCARD_CI_DIR). The functions' bodies are
# the `run:` steps of docs/ci/github-actions.yml, line for line.
set -euo pipefail

exec_job() {
    softcard init card.img --profile piv --pin 123456
    softcard exec --image card.img -- yubico-piv-tool -r softcard -a generate -s 9a -A ECCP256 -o public.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=ci-ca/ -days 1
    openssl x509 -new -subj /CN=ci/ -force_pubkey public.pem -CA ca.pem -CAkey ca.key -days 1 -out cert.pem
    softcard exec --image card.img -- yubico-piv-tool -r softcard -a import-certificate -s 9a -i cert.pem
    echo "built by CI" > data.txt
    softcard exec --image card.img -- pkcs11-tool --module "$OPENSC_PKCS11" --login --pin 123456 --sign --mechanism ECDSA-SHA256 --signature-format openssl --input-file data.txt --output-file data.sig
    openssl dgst -sha256 -verify public.pem -signature data.sig data.txt
    ! softcard exec --image card.img -- pkcs11-tool --module "$OPENSC_PKCS11" --login --pin 654321 --sign --mechanism ECDSA-SHA256 --input-file data.txt --output-file bad.sig 2> wrong-pin.txt
    grep CKR_PIN_INCORRECT wrong-pin.txt
}

serve_job() {
    softcard init card.img --profile piv --pin 123456
    softcard serve --image card.img &
    timeout 30 bash -c 'until opensc-tool --reader "Virtual PCD 00 00" --atr; do sleep 0.2; done'
    yubico-piv-tool -r "Virtual PCD 00 00" -a generate -s 9a -A ECCP256 -o public.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=ci-ca/ -days 1
    openssl x509 -new -subj /CN=ci/ -force_pubkey public.pem -CA ca.pem -CAkey ca.key -days 1 -out cert.pem
    yubico-piv-tool -r "Virtual PCD 00 00" -a import-certificate -s 9a -i cert.pem
    echo "built by CI" > data.txt
    pkcs11-tool --module "$OPENSC_PKCS11" --login --pin 123456 --sign --mechanism ECDSA-SHA256 --signature-format openssl --input-file data.txt --output-file data.sig
    openssl dgst -sha256 -verify public.pem -signature data.sig data.txt
    ! pkcs11-tool --module "$OPENSC_PKCS11" --login --pin 654321 --sign --mechanism ECDSA-SHA256 --input-file data.txt --output-file bad.sig 2> wrong-pin.txt
    grep CKR_PIN_INCORRECT wrong-pin.txt
    kill %1
}

export OPENSC_PKCS11=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
cd "${SOFTCARD_CI_DIR:-.}"
case "${1:-}" in
    exec) set -x; exec_job ;;
    serve) set -x; serve_job; wait ;;
    *) echo "usage: $0 exec|serve" >&2; exit 2 ;;
esac
echo "softcard-ci: $1: passed"
