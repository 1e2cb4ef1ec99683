#!/bin/bash
# Rebuild OUTDIR/haproxy/docs/ from the Debian 12 package haproxy (its plain-text docs).
# Usage: bash build.sh OUTDIR
set -euo pipefail
OUT="${1:?usage: bash build.sh OUTDIR}"
NAME=haproxy
PKG=haproxy
VER=2.6.12-1+deb12u4
SHA=97ca097d12b43fc5cb1b17aa5e84957735ef312a2e02cf8a99512fa1abe8a955
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
( cd "$TMP" && apt-get download "$PKG=$VER" >/dev/null 2>&1 )
DEB="$(ls "$TMP"/${PKG}_*.deb)"
echo "$SHA  $DEB" | sha256sum -c --quiet
dpkg-deb -x "$DEB" "$TMP/x"
SRC="$TMP/x/usr/share/doc/haproxy"
DST="$OUT/$NAME/docs"
rm -rf "$DST"; mkdir -p "$DST"
# gunzip only; otherwise unchanged
for f in intro management proxy-protocol lua; do gunzip -c "$SRC/$f.txt.gz" > "$DST/$f.txt"; done
for f in seamless_reload close-options cookie-options linux-syn-cookies network-namespaces; do
  cp -p "$SRC/$f.txt" "$DST/$f.txt"
done
cp -p "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $DST: $(ls "$DST" | wc -l) files, $(cat "$DST"/* | wc -c) bytes"
