"""Files of a saved index, written safely and read back checked: the one place that writes to
disk for ``store`` and the engines.

Every file is written to a temporary name and renamed into place, so a crash leaves the old file
or the new one, never half of one. Each write returns the file's size and SHA-256 (files over
64 MB: a hash of their first and last 4 MB, to keep loading fast), and every read checks them.
"""
from __future__ import annotations

import hashlib
import io
import mmap
import os
import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bot.config import CorpusError

BIG_FILE = 64 * 2**20  # above this, a file is checked by size and a hash of its two ends
SAMPLE = 4 * 2**20
REBUILD = "rebuild it with `python -m bot index`"


def checksum(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file (of its first and last 4 MB above 64 MB)."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= BIG_FILE:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            return {"size": size, "sha256": h.hexdigest()}
        h.update(f.read(SAMPLE))
        f.seek(size - SAMPLE)
        h.update(f.read(SAMPLE))
        return {"size": size, "sha256_ends": h.hexdigest()}


def temporary(path: Path) -> Path:
    """The name a file is written under before it is renamed into place (a crashed writer's
    leftovers match ``.*.tmp-<pid>``)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove(path: Path) -> None:
    """Delete a file or a folder, whichever ``path`` is (a symlink itself, not what it points to);
    nothing when it is gone already."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> None:
    """Delete what this process left half-written in ``folder`` (``temporary`` names)."""
    for leftover in folder.glob(f".*.tmp-{os.getpid()}"):
        remove(leftover)


def atomic_write(path: Path, data: bytes) -> dict[str, Any]:
    tmp = temporary(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return checksum(path)


NPY_ALIGN = 64  # where each array's data starts in an archive: numpy pads an .npy header to this


class Joined:
    """A one-dimensional array given as pieces in order (views of a mapped file, new arrays),
    which ``atomic_npz`` writes a piece at a time, never putting them together in memory: an
    update's arrays are mostly runs of the last generation's rows (1.2 GB at 10M passages), and
    joining them first cost a copy of them all. Each piece is cast to ``dtype`` as it is written."""

    def __init__(self, pieces: Sequence[np.ndarray], dtype: Any):
        self.pieces, self.dtype = list(pieces), np.dtype(dtype)
        self.shape = (sum(len(p) for p in self.pieces),)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The pieces joined (what a caller that needs the whole array, or a test, gets)."""
        joined = np.concatenate(self.pieces).astype(self.dtype, copy=False) if self.pieces else np.empty(0, self.dtype)
        return joined if dtype is None else joined.astype(dtype, copy=False)


def atomic_npz(dest: Path, /, **arrays: "np.ndarray | Joined") -> dict[str, Any]:
    """An ``.npz`` archive (``np.load`` reads it) written straight to a temporary file, then
    renamed: no second copy of the arrays in memory, as building the archive as bytes first would.
    Unlike ``np.savez``'s, each member starts at a multiple of ``NPY_ALIGN`` bytes (padded in its
    header's extra field, as ``zipalign`` does), so its array, mapped by ``load_npz``, is aligned:
    numpy copies an unaligned array for a search (1 ms for a million passages' documents)."""
    tmp = temporary(dest)
    with open(tmp, "wb") as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for key, value in arrays.items():
                array = value if isinstance(value, Joined) else np.asanyarray(value)
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                # the local header: 30 bytes, the name, our extra field (4 + pad), zip64's (20)
                fixed = f.tell() + 30 + len(info.filename.encode("utf-8")) + 4 + 20
                info.extra = struct.pack("<HH", _PAD_ID, (-fixed) % NPY_ALIGN) + bytes((-fixed) % NPY_ALIGN)
                with z.open(info, "w", force_zip64=True) as out:
                    _write_npy(out, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return checksum(dest)


def _write_npy(out: Any, array: "np.ndarray | Joined") -> None:
    """``np.lib.format.write_array``'s bytes, written from the array's own memory: numpy copies
    an array into 16 MB pieces for a file object that is not a real file (a zip member), and that
    took two of the five seconds of writing a 10M-passage index's 1.2 GB of passage arrays. A
    ``Joined`` array is written a piece at a time."""
    if isinstance(array, Joined):
        header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False, "shape": array.shape}
        pieces = array.pieces
    elif array.dtype.hasobject or not array.flags.c_contiguous or not type(array.dtype)._legacy:
        np.lib.format.write_array(out, array, allow_pickle=False)  # refuses objects; orders the rest
        return
    else:
        header, pieces = np.lib.format.header_data_from_array_1_0(array), [array.reshape(-1)]
    try:
        np.lib.format.write_array_header_1_0(out, header)
    except ValueError:  # a header over 64 KB (a shape of thousands of dimensions): numpy's later versions
        np.lib.format.write_array(out, np.asarray(array), allow_pickle=False)
        return
    for piece in pieces:
        if len(piece):
            out.write(memoryview(np.ascontiguousarray(piece.astype(array.dtype, copy=False)).view(np.uint8)))


_PAD_ID = 0xD935  # the extra field id ``zipalign`` pads with; readers skip ids they do not know


class IndexFileError(CorpusError):
    """An index file missing, unreadable, truncated or changed; ``problem`` names it and says
    which (the message adds how to repair it)."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(f"{problem}; {REBUILD}")


def checked(folder: Path, name: str, info: dict[str, Any], full: bool = False) -> Path:
    """The path of an index file whose size matches what the index recorded (a truncated, grown or
    missing file is refused); with ``full``, its hash too (``python -m bot index --verify``: the
    checksums are written with every file, and reading a million passages' files to hash them at
    every load cost more than the load itself)."""
    path = folder / name
    try:
        got = checksum(path) if full else {"size": path.stat().st_size}
    except OSError as exc:
        raise IndexFileError(f"{path}: index file missing or unreadable ({exc.strerror or exc})") from None
    if got != {k: info.get(k) for k in got}:
        raise IndexFileError(f"{path}: index file is truncated or was changed after indexing")
    return path


def read_checked(folder: Path, name: str, info: dict[str, Any]) -> bytes:
    return checked(folder, name, info).read_bytes()


def load_npz(folder: Path, name: str, info: dict[str, Any]) -> dict[str, np.ndarray]:
    """A checked ``.npz`` archive's arrays (no pickles). An array stored uncompressed (as
    ``np.savez`` writes them) is a read-only view of the memory-mapped file: nothing is read until
    it is used, and its pages are the kernel's page cache, shared by every process serving the
    index, not each one's private memory."""
    path = checked(folder, name, info)
    mapped = map_file(path)
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as z:
        for item in z.infolist():
            key = item.filename[:-4] if item.filename.endswith(".npy") else item.filename
            array = _mapped_member(mapped, item) if item.compress_type == zipfile.ZIP_STORED else None
            if array is None:
                with z.open(item) as f:
                    array = np.lib.format.read_array(f, allow_pickle=False)
            out[key] = array
    return out


def _mapped_member(mapped: "mmap.mmap | bytes", item: zipfile.ZipInfo) -> np.ndarray | None:
    """The array of a stored ``.npy`` member as a view of ``mapped``, or None when it is not one
    that can be (an object array, a header that does not read)."""
    at = item.header_offset
    if len(mapped) < at + 30 or bytes(mapped[at:at + 4]) != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack("<HH", mapped[at + 26:at + 30])
    start = at + 30 + name_len + extra_len
    head = io.BytesIO(bytes(mapped[start:start + min(item.file_size, 65536)]))
    try:
        version = np.lib.format.read_magic(head)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(head)
    except ValueError:
        return None
    if dtype.hasobject:
        return None
    count = int(np.prod(shape, dtype=np.int64))
    offset = start + head.tell()
    if offset + count * dtype.itemsize > start + item.file_size:
        return None
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset) if count else np.zeros(0, dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def map_file(path: Path) -> "mmap.mmap | bytes":
    """A read-only memory map of a file (empty bytes for an empty file, which mmap refuses)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
