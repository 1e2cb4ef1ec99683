#!/bin/bash
# Rebuild OUTDIR/zsh-common_lynx-common_fetchmail/{docs,questions.jsonl} from the Debian 12 packages.
# Usage: bash build.sh OUTDIR   (needs apt-get, dpkg-deb, gunzip, sha256sum)
set -euo pipefail
OUT=${1:?usage: bash build.sh OUTDIR}
NAME=zsh-common_lynx-common_fetchmail
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
PKGS=(
  "zsh-common=5.9-4 4f263aa88910f750965b1a83dcbca1355b2cf509acffe96cc2d856333909a7b5 zsh-common_5.9-4_all.deb"
  "lynx-common=2.9.0dev.12-1 3018c15ba98c9fc934ab86202f13b7af9066f742d5959c6c14ee98d6cac9fbe6 lynx-common_2.9.0dev.12-1_all.deb"
  "fetchmail=6.4.37-1 67a888df52239e0988a9170b8d8521fbeca1d9934a8b0f1a3e1ea6982a880ed6 fetchmail_6.4.37-1_amd64.deb"
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
gunzip -c x/zsh-common/usr/share/doc/zsh-common/FAQ.gz          > "$DOCS/zsh-FAQ.txt"
gunzip -c x/lynx-common/usr/share/doc/lynx-common/PROBLEMS.gz   > "$DOCS/lynx-PROBLEMS.txt"
gunzip -c x/fetchmail/usr/share/doc/fetchmail/README.SSL.gz     > "$DOCS/fetchmail-README.SSL.txt"
cp "$HERE/questions.jsonl" "$OUT/$NAME/questions.jsonl"
echo "built $OUT/$NAME: $(ls "$DOCS" | wc -l) files, $(cat "$DOCS"/* | wc -c) bytes"
