#!/usr/bin/env bash
# The container's entry point: a card image ($SOFTCARD_IMAGE, created with profile
# $SOFTCARD_PROFILE when missing), pcscd with vpcd's readers (scripts/peer-stack.sh),
# `softcard serve` putting the card into "Virtual PCD 00 00", then the command.
set -euo pipefail
image=${SOFTCARD_IMAGE:-/var/lib/softcard/card.img}
if [ ! -e "$image" ]; then
    mkdir -p "$(dirname "$image")"
    softcard init "$image" --profile "${SOFTCARD_PROFILE:-piv}" >&2
fi
/usr/local/lib/softcard/peer-stack.sh start
softcard serve --image "$image" >/var/log/softcard-serve.log 2>&1 &
for _ in $(seq 100); do
    if opensc-tool -r 0 -a >/dev/null 2>&1; then
        exec "$@"
    fi
    sleep 0.2
done
echo "softcard-entrypoint: the card did not answer in Virtual PCD 00 00 within 20 s" >&2
cat /var/log/softcard-serve.log >&2
exit 1
