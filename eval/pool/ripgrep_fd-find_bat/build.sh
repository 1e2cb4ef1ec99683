#!/bin/bash
# Rebuild OUTDIR/ripgrep_fd-find_bat/{docs,questions.jsonl} from the Debian 12 packages.
# Usage: bash build.sh OUTDIR   (needs apt-get, dpkg-deb, gunzip, sha256sum; no root needed for download)
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=ripgrep_fd-find_bat
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
# package=version  sha256  debfile
PKGS=(
  "ripgrep=13.0.0-4+b2 feba1aea6022d84c67293686fe82132f7283d3c485a2cbd5af5c0e210615ecc2 ripgrep_13.0.0-4+b2_amd64.deb"
  "fd-find=8.6.0-3 1c0af4b1c6727ee8a8cc3a674cce7919aeb070d7017620d8fdc528739cefb333 fd-find_8.6.0-3_amd64.deb"
  "bat=0.22.1-4 edf6fd2340051da870a9d3e9f47100f66dc8442c51f9e3c805bdee060478d3f4 bat_0.22.1-4_amd64.deb"
)
cd "$TMP"
for entry in "${PKGS[@]}"; do
  read -r spec sum deb <<<"$entry"
  apt-get download -q "$spec" >/dev/null 2>&1 || apt-get download "$spec"
  echo "$sum  $deb" | sha256sum -c --quiet -
  pkg=${spec%%=*}
  mkdir -p "x/$pkg"; dpkg-deb -x "$deb" "x/$pkg"
done
DOCS="$OUT/$NAME/docs"
rm -rf "$OUT/$NAME"; mkdir -p "$DOCS"
# The only Markdown these packages ship is the upstream CHANGELOG.md, installed as changelog.gz.
for pkg in ripgrep fd-find bat; do
  gunzip -c "x/$pkg/usr/share/doc/$pkg/changelog.gz" > "$DOCS/$pkg-CHANGELOG.md"
done
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$DOCS" | wc -l) files, $(cat "$DOCS"/* | wc -c) bytes"
