#!/bin/bash
# Rebuild OUTDIR/privoxy/docs/ from the Debian 12 package.
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=privoxy
PKG=privoxy
VER=3.0.34-1
SHA=767b14a2faefac1dbb3eab9eeacb368f48bb3b0bc1d3d37cb07e6e72a89ded07
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null)
DEB=$(ls "$TMP"/${PKG}_*.deb)
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/doc/privoxy"
mkdir -p "$OUT/$NAME/docs"
rm -f "$OUT/$NAME/docs/"*
# Byte-for-byte copies. The FAQ and the user manual both have e.g. configuration.html,
# so each file gets its directory as a prefix: faq-X.html, user-manual-X.html.
for f in general installation configuration misc trouble; do
  cp "$SRC/faq/$f.html" "$OUT/$NAME/docs/faq-$f.html"
done
for f in quickstart config actions-file filter-file; do
  cp "$SRC/user-manual/$f.html" "$OUT/$NAME/docs/user-manual-$f.html"
done
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$OUT/$NAME/docs" | wc -l) files, $(cat "$OUT/$NAME/docs/"* | wc -c) bytes"
