#!/usr/bin/env python3
"""Drop whole top-level chapters from the rendered rclone(1) text.

rclone.1 renders to ~1.98 MB, over the corpus budget of ~1.5 MB, so the
Changelog, the contributor list and the chapters of backends not listed in
KEEP_BACKENDS are removed. A chapter is a line with no indent (a .SH
heading) up to the next such line; everything else is kept byte for byte.
Usage: cut_rclone.py IN OUT
"""
import re, sys

DROP_ALWAYS = {'Changelog', 'Authors and contributors'}
# backend chapters lie between these two headings (both kept)
FIRST_BACKEND, LAST_BACKEND = '1Fichier', 'Local Filesystem'
KEEP_BACKENDS = {
    'Amazon S3 Storage Providers', 'Backblaze B2', 'Crypt', 'Dropbox', 'FTP',
    'Google Drive', 'Microsoft OneDrive', 'SFTP', 'Union', 'WebDAV',
    'Local Filesystem',
}

src, dst = sys.argv[1], sys.argv[2]
lines = open(src, encoding='utf-8').read().split('\n')
out, keep, in_backends, seen = [], True, False, set()
for line in lines:
    if re.match(r'\S', line):
        name = line.strip()
        if name == FIRST_BACKEND:
            in_backends = True
        if name in DROP_ALWAYS:
            keep = False
        elif in_backends:
            keep = name in KEEP_BACKENDS
        else:
            keep = True
        seen.add(name)
        if name == LAST_BACKEND:
            in_backends = False
    if keep:
        out.append(line)
missing = (KEEP_BACKENDS | DROP_ALWAYS | {FIRST_BACKEND}) - seen
if missing:
    sys.exit(f'headings not found: {sorted(missing)}')
open(dst, 'w', encoding='utf-8').write('\n'.join(out))
