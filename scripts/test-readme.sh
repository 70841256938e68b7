#!/usr/bin/env bash
# Compiles the C example of README.md against the built library and runs it against tern-server:
# the README's program must download the file and print it.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
awk '/^```c$/ && !done {f=1;next} /^```$/ && f {f=0; done=1} f' "$src/README.md" > "$work/client.c"
cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -I"$src/include" "$work/client.c" \
   "$build/libtern.a" $(pkg-config --libs gnutls) -lm -o "$work/client"
bash "$src/scripts/make-cert.sh" "$work" >/dev/null
mkdir "$work/www"
echo "hello from tern $$" > "$work/www/index.html"

"$build/tern-server" --listen 127.0.0.1:4433 --root "$work/www" --cert "$work/cert.pem" \
    --key "$work/key.pem" -q 2>"$work/server.log" &
srv=$!
sleep 0.3
out=$(cd "$work" && timeout 10 ./client)
[ "$out" = "hello from tern $$" ] || { echo "README client printed: '$out'"; cat "$work/server.log"; exit 1; }
echo "README example: ok"
