"""Tractogram files (.tck, .trk, .trx, .vtk, .vtp) as flat point arrays in RAS mm, read in chunks.

This module is the ONE place where streamlines are converted to and from arrays (the
logic layer, the command line and the Slicer module all use it).

In memory, streamlines are a nibabel :class:`~nibabel.streamlines.ArraySequence`: one flat
``(P, 3)`` float32 array of points in RAS mm (``._data``), the index of each streamline's
first point (``._offsets``) and its number of points (``._lengths``).

For analysis, :func:`open_tractogram` returns a :class:`Tractogram` whose
:meth:`Tractogram.chunks` yields :class:`Chunk` blocks of at most ``CHUNK_POINTS`` points,
so peak memory depends on the chunk, not on the file:

- ``.tck`` (MRtrix3): points are RAS scanner mm by the format's definition; the data
  section is memory-mapped and split at the NaN delimiters of each block (no loop over
  streamlines).
- ``.trk`` (TrackVis): points are stored in "voxmm" of the header's reference grid; the
  header's ``vox_to_ras`` declares the space (nibabel's ``get_affine_trackvis_to_rasmm``
  gives voxmm -> RAS mm). The data section is memory-mapped; streamline records are
  located from their point-count words in one vectorised pass and the chain of records
  is verified. A header without ``vox_to_ras`` is refused (its space is not declared).
- ``.trx`` (Rheault et al., "TRX: a community-oriented tractography file format", 2023):
  RAS mm by definition, memory-mapped with ``trx-python`` (nothing is copied).
- ``.vtk`` / ``.vtp`` polydata with line cells (SlicerDMRI fibre bundles, Slicer models),
  read whole with VTK. Since Slicer 4.11 the frame is in the file: ``SPACE=LPS`` /
  ``SPACE=RAS`` in the legacy header line, or a ``SPACE`` string array in the field data
  of XML files (``vtkMRMLModelStorageNode``). Files without a tag (e.g. MRtrix3
  ``tckconvert``, which writes RAS with no tag) are refused unless the caller says the
  frame (``vtk_space="RAS"|"LPS"``, ``--vtk-space``); a tag in the file always wins.

Every :class:`Tractogram` carries ``space`` (``"RAS"``, the frame of the delivered
points, mm) and ``space_source`` (how that frame was determined), recorded in outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..defaults.networks import CHUNK_POINTS, VTK_WRITE_SPACE
from ..errors import InputError, OutputError
from ..geometry import LPS_TO_RAS
from ..io import commit_file, temporary_file

TRACTOGRAM_SUFFIXES = (".tck", ".trk", ".trx", ".vtk", ".vtp")
#: Blocks of a memory-mapped .tck kept resident after they are handed out; older pages are
#: released (a block still in use is simply read again from the page cache).
RELEASE_LAG_BLOCKS = 2
SPACES = ("RAS", "LPS")


def make_streamlines(data, offsets, lengths=None):
    """Wrap a flat ``(P, 3)`` point array and streamline offsets as an ArraySequence (no copy)."""
    from nibabel.streamlines import ArraySequence

    data = np.asarray(data) if not isinstance(data, np.memmap) else data
    offsets = np.asarray(offsets, dtype=np.int64)
    if lengths is None:
        ends = np.append(offsets[1:], len(data)) if len(offsets) else offsets
        lengths = ends - offsets
    seq = ArraySequence()
    seq._data = data
    seq._offsets = offsets
    seq._lengths = np.asarray(lengths, dtype=np.int64)
    return seq


def empty_streamlines():
    """An ArraySequence with no streamlines."""
    return make_streamlines(np.zeros((0, 3), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


def flat_arrays(streamlines, source: str = "streamlines"):
    """Return ``(points (P, 3), offsets int64 (n,), lengths int64 (n,))`` of ``streamlines``.

    Accepts an ArraySequence or anything with ``_data``/``_offsets`` (and optionally
    ``_lengths``), a tuple ``(points, offsets[, lengths])``, or a list of ``(m, 3)``
    arrays (concatenated). The point array is returned as is (a memory map stays one).
    """
    if hasattr(streamlines, "_data") and hasattr(streamlines, "_offsets"):
        data, offsets = streamlines._data, streamlines._offsets
        lengths = getattr(streamlines, "_lengths", None)
    elif isinstance(streamlines, tuple) and len(streamlines) in (2, 3) and np.ndim(streamlines[0]) == 2:
        data, offsets = streamlines[0], streamlines[1]
        lengths = streamlines[2] if len(streamlines) == 3 else None
    else:
        arrays = [np.asarray(s, dtype=np.float32).reshape(-1, 3) for s in streamlines]
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(arrays) else lengths
        data = np.concatenate(arrays) if arrays else np.zeros((0, 3), np.float32)
    data = data if isinstance(data, np.memmap) else np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3:
        if data.size == 0:
            data = np.zeros((0, 3), np.float32)
        else:
            raise InputError(source, f"points must be an (N, 3) array, got shape {data.shape}")
    offsets = np.asarray(offsets, dtype=np.int64)
    if lengths is None:
        ends = np.append(offsets[1:], len(data)) if len(offsets) else offsets
        lengths = ends - offsets
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) != len(offsets):
        raise InputError(source, f"{len(offsets)} offsets but {len(lengths)} lengths")
    if len(offsets) and (offsets.min() < 0 or lengths.min() < 0 or (offsets + lengths).max() > len(data)):
        raise InputError(source, "streamline offsets/lengths point outside the point array")
    return data, offsets, lengths


def is_packed(offsets, lengths) -> bool:
    """True when streamlines follow each other in the point array without gaps (offset_i+1 = offset_i + length_i)."""
    if len(offsets) == 0:
        return True
    return bool(offsets[0] == 0 and np.array_equal(offsets[1:], offsets[:-1] + lengths[:-1]))


def pack(data, offsets, lengths):
    """``(points, offsets, lengths)`` with consecutive streamlines and no other rows (copies only if needed)."""
    if is_packed(offsets, lengths):
        return data[:int(lengths.sum())], offsets, lengths
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(offsets - starts, lengths)
    return np.asarray(data[index]), starts, lengths


def packed_arrays(streamlines, source: str = "streamlines"):
    """Like :func:`flat_arrays`, with consecutive streamlines and no trailing points (copies only if needed)."""
    return pack(*flat_arrays(streamlines, source))


def arc_lengths(data, offsets, lengths) -> np.ndarray:
    """Arc length (mm) of every streamline of packed arrays: the sum of its segment lengths (0 for < 2 points)."""
    out = np.zeros(len(offsets))
    if len(data) < 2:
        return out
    seg = segment_lengths(data, offsets, lengths)
    nonempty = lengths > 0
    out[nonempty] = np.add.reduceat(seg, offsets[nonempty])
    return out


def segment_lengths(data, offsets, lengths) -> np.ndarray:
    """Length (mm, float64) of the segment from each point to the next of packed arrays; 0 at each streamline's last point."""
    seg = np.zeros(len(data))
    if len(data) < 2:
        return seg
    d = np.diff(np.asarray(data, dtype=np.float64), axis=0)
    d *= d
    seg[:-1] = np.sqrt(d.sum(axis=1))
    last = (offsets + lengths - 1)[lengths > 0]
    seg[last] = 0.0
    return seg


def streamline_lengths_mm(streamlines, source: str = "streamlines") -> np.ndarray:
    """Arc length (mm) of every streamline: the sum of its segment lengths (0 for < 2 points)."""
    return arc_lengths(*packed_arrays(streamlines, source))


# ----------------------------------------------------------------------------- chunked sources

@dataclass
class Chunk:
    """A block of consecutive streamlines: ``points`` (P, 3) RAS mm, ``offsets``/``lengths`` into it.

    ``first`` is the index (in the whole tractogram) of the chunk's first streamline.
    ``points`` may hold rows that belong to no streamline (delimiters); :meth:`packed`
    removes them.
    """
    points: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    first: int

    def __len__(self):
        return len(self.offsets)

    def packed(self):
        """``(points, offsets, lengths)`` with consecutive streamlines (a copy only if needed)."""
        return pack(self.points, self.offsets, self.lengths)


class Tractogram:
    """Streamlines in RAS mm that can be read in chunks (:meth:`chunks`) or whole (:meth:`load`).

    ``space`` is the frame of the delivered points (always ``"RAS"``, mm);
    ``space_source`` says how the file's frame was determined; ``source`` names the input.
    """

    space = "RAS"

    def __init__(self, source: str, space_source: str):
        self.source = source
        self.space_source = space_source

    def chunks(self, max_points: int = CHUNK_POINTS):
        raise NotImplementedError

    def load(self):
        """The whole tractogram as an ArraySequence (RAS mm)."""
        pieces = [chunk.packed() for chunk in self.chunks()]
        if not pieces:
            return empty_streamlines()
        if len(pieces) == 1:
            return make_streamlines(*pieces[0])
        data = np.concatenate([p[0] for p in pieces])
        lengths = np.concatenate([p[2] for p in pieces])
        offsets = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        return make_streamlines(data, offsets, lengths)

    def describe(self) -> dict:
        """JSON-able record of the input and its space (written into outputs)."""
        return {"tractogram": self.source, "tractogram_space": self.space, "tractogram_space_source": self.space_source}


class ArrayTractogram(Tractogram):
    """Streamlines already in memory (an ArraySequence, a memory-mapped .trx, flat arrays or a list)."""

    def __init__(self, streamlines, source: str = "streamlines", space_source: str = "in memory, RAS mm"):
        super().__init__(source, space_source)
        self.data, self.offsets, self.lengths = flat_arrays(streamlines, source)
        self.streamlines = streamlines
        self.n_streamlines = len(self.offsets)

    def chunks(self, max_points: int = CHUNK_POINTS):
        n = self.n_streamlines
        if n == 0:
            return
        max_points = max(int(max_points), 1)
        ends = np.cumsum(self.lengths)
        cuts = np.searchsorted(ends, np.arange(max_points, int(ends[-1]) + max_points, max_points), side="right")
        bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, n), [n]]))
        packed = is_packed(self.offsets, self.lengths)
        for s0, s1 in zip(bounds[:-1], bounds[1:]):
            offsets, lengths = self.offsets[s0:s1], self.lengths[s0:s1]
            if packed:
                p0 = int(offsets[0])
                yield Chunk(self.data[p0:int(offsets[-1] + lengths[-1])], offsets - p0, lengths, int(s0))
            else:
                yield Chunk(*pack(self.data, offsets, lengths), int(s0))

    def load(self):
        if hasattr(self.streamlines, "_data") and hasattr(self.streamlines, "_offsets"):
            return self.streamlines
        return make_streamlines(self.data, self.offsets, self.lengths)


class TckTractogram(Tractogram):
    """MRtrix3 ``.tck``: a text header, then float triples; a NaN triple ends each streamline, an Inf triple the file."""

    def __init__(self, path: Path, source: str):
        super().__init__(source, "RAS scanner mm by the .tck format definition (MRtrix3)")
        self.path = path
        header, data_offset = _tck_header(path, source)
        kinds = {"float32le": "<f4", "float32be": ">f4", "float64le": "<f8", "float64be": ">f8"}
        datatype = header.get("datatype", "").lower()
        if datatype not in kinds:
            raise InputError(source, f"unsupported .tck datatype {header.get('datatype')!r}")
        self.dtype = np.dtype(kinds[datatype])
        self.data_offset = data_offset
        self.header = header
        rows = (path.stat().st_size - data_offset) // (3 * self.dtype.itemsize)
        self.rows = max(int(rows), 0)
        last = np.zeros(0)
        if self.rows:
            with open(path, "rb") as handle:
                handle.seek(data_offset + (self.rows - 1) * 3 * self.dtype.itemsize)
                last = np.fromfile(handle, dtype=self.dtype, count=3).astype(np.float64)
        if (path.stat().st_size - data_offset) % (3 * self.dtype.itemsize) or not np.isinf(last).all() or not len(last):
            raise InputError(source, "is truncated: it does not end with the end-of-data marker of a .tck file (an "
                                     "Inf triple); the file was not written or copied completely")

    def chunks(self, max_points: int = CHUNK_POINTS):
        """Blocks of the memory-mapped data section, split at the NaN delimiters.

        Pages of blocks already processed are released (``MADV_DONTNEED``; the file stays in
        the page cache), so resident memory stays a few blocks whatever the file size.
        """
        import mmap

        if self.rows == 0:
            return
        with open(self.path, "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        release = getattr(mapped, "madvise", None)
        if release is not None and hasattr(mmap, "MADV_SEQUENTIAL"):
            release(mmap.MADV_SEQUENTIAL)
        data = np.frombuffer(mapped, dtype=self.dtype, count=3 * self.rows, offset=self.data_offset).reshape(-1, 3)
        native = self.dtype.newbyteorder("=")
        row_bytes = 3 * self.dtype.itemsize
        start, index, rows = 0, 0, self.rows
        max_points = max(int(max_points), 2)
        done_bytes = []  # byte offsets of blocks handed out, released a few blocks later
        while start < rows:
            size = max_points
            while True:
                stop = min(rows, start + size)
                block = data[start:stop] if self.dtype.isnative else data[start:stop].astype(native)
                x = block[:, 0]
                bad = np.flatnonzero(~np.isfinite(x))
                end = np.flatnonzero(np.isinf(x[bad]))
                final = stop == rows
                if len(end):  # the Inf triple: end of data
                    cut = int(bad[end[0]])
                    block, bad, final = block[:cut], bad[:end[0]], True
                if final or len(bad):
                    break
                size *= 2  # one streamline longer than the block
            starts = np.empty(len(bad) + 1, dtype=np.int64)
            starts[0] = 0
            starts[1:] = bad + 1
            stops = np.append(bad, len(block)).astype(np.int64)
            if not final or stops[-1] == starts[-1]:  # the last piece continues in the next block, or is empty
                starts, stops = starts[:-1], stops[:-1]
            if len(starts):
                yield Chunk(block, starts, stops - starts, index)
                index += len(starts)
            if final:
                return
            next_start = start + int(bad[-1]) + 1
            done_bytes.append((self.data_offset + start * row_bytes, self.data_offset + next_start * row_bytes))
            if release is not None and len(done_bytes) > RELEASE_LAG_BLOCKS:
                lo, hi = done_bytes.pop(0)
                lo, hi = lo // mmap.PAGESIZE * mmap.PAGESIZE, hi // mmap.PAGESIZE * mmap.PAGESIZE
                if hi > lo:
                    release(mmap.MADV_DONTNEED, lo, hi - lo)
            start = next_start

    @property
    def n_streamlines(self):
        count = self.header.get("count")
        return int(count) if count is not None and str(count).strip().isdigit() else None


def _tck_header(path: Path, source: str):
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    if not head.startswith(b"mrtrix tracks"):
        raise InputError(source, "is not an MRtrix3 .tck file (no 'mrtrix tracks' magic line)")
    end = head.find(b"\nEND\n")
    if end < 0:
        raise InputError(source, "has no END line closing its .tck header")
    header = {}
    for line in head[:end].decode("latin-1").splitlines()[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            header[key.strip().lower()] = value.strip()
    file_field = header.get("file", "").split()
    if len(file_field) != 2 or file_field[0] != "." or not file_field[1].isdigit():
        raise InputError(source, f"unsupported .tck 'file:' field {header.get('file')!r} (expected '. OFFSET')")
    offset = int(file_field[1])
    if offset < end + 5:
        raise InputError(source, f".tck data offset {offset} lies inside the header")
    return header, offset


class TrkTractogram(Tractogram):
    """TrackVis ``.trk``: per streamline an int32 point count, its points (x, y, z + scalars) and properties."""

    def __init__(self, path: Path, source: str):
        from nibabel.streamlines.trk import Field, TrkFile, get_affine_trackvis_to_rasmm

        raw = path.read_bytes()[:1000] if path.stat().st_size >= 1000 else b""
        if len(raw) < 1000 or raw[:5] != b"TRACK":
            raise InputError(source, "is not a TrackVis .trk file (no TRACK magic or header shorter than 1000 bytes)")
        endian = "<" if np.frombuffer(raw[996:1000], "<i4")[0] == 1000 else ">"
        if not np.frombuffer(raw[440:504], endian + "f4").any():
            raise InputError(source, "the .trk header has no vox_to_ras matrix, so its space is not declared; "
                                     "convert it with the reference image (e.g. DIPY's StatefulTractogram)")
        with open(path, "rb") as handle:
            header = TrkFile._read_header(handle)
        super().__init__(source, "TrackVis voxmm mapped to RAS mm by the header's vox_to_ras "
                                 f"(voxel order {header[Field.VOXEL_ORDER]!r})")
        self.path = path
        self.to_ras = get_affine_trackvis_to_rasmm(header).astype(np.float64)
        self.n_scalars = int(header[Field.NB_SCALARS_PER_POINT])
        self.n_properties = int(header[Field.NB_PROPERTIES_PER_STREAMLINE])
        self.endian = endian
        self.data_offset = int(header["_offset_data"])
        self.words = max((path.stat().st_size - self.data_offset) // 4, 0)
        self._records = None

    def _read_words(self, handle, start, count, kind):
        """``count`` 32-bit words of the data section from word ``start``, as native ``kind`` (plain file read)."""
        handle.seek(self.data_offset + 4 * int(start))
        words = np.fromfile(handle, dtype=np.dtype(kind).newbyteorder(self.endian), count=int(count))
        if len(words) < count:
            raise InputError(self.source, "the .trk data section is truncated")
        return words.astype(np.dtype(kind).newbyteorder("="), copy=False)

    def records(self):
        """Word index of every streamline's point-count word, and the counts (vectorised, verified)."""
        if self._records is not None:
            return self._records
        stride = 3 + self.n_scalars
        block = 1 << 22
        found, counts = [], []
        # a count is an int32 in [1, 2^23); as float32 that bit pattern is a subnormal number, never a coordinate
        with open(self.path, "rb") as handle:
            for w0 in range(0, self.words, block):
                w = self._read_words(handle, w0, min(block, self.words - w0), "i4")
                local = np.flatnonzero((w >= 1) & (w < 1 << 23))
                found.append(local + w0)
                counts.append(w[local].astype(np.int64))
        starts = np.concatenate(found) if found else np.zeros(0, np.int64)
        counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        following = starts + 1 + counts * stride + self.n_properties
        ok = (len(starts) == 0 and self.words == 0) or (
            len(starts) > 0 and starts[0] == 0 and np.array_equal(following[:-1], starts[1:])
            and following[-1] == self.words)
        if not ok:
            with open(self.path, "rb") as handle:
                starts, counts = self._walk(self._read_words(handle, 0, self.words, "i4"), stride)
        self._records = (starts, counts)
        return self._records

    def _walk(self, counts_view, stride):
        """Fallback for files with zero-point streamlines or subnormal values: follow the records in order."""
        starts, counts, position = [], [], 0
        while position < self.words:
            count = int(counts_view[position])
            if count < 0:
                raise InputError(self.source, f"negative point count at word {position}")
            starts.append(position)
            counts.append(count)
            position += 1 + count * stride + self.n_properties
        if position != self.words:
            raise InputError(self.source, "the .trk data section is truncated")
        return np.asarray(starts, dtype=np.int64), np.asarray(counts, dtype=np.int64)

    @property
    def n_streamlines(self):
        return len(self.records()[0])

    def chunks(self, max_points: int = CHUNK_POINTS):
        starts, counts = self.records()
        n = len(starts)
        if n == 0:
            return
        stride = 3 + self.n_scalars
        ends = np.cumsum(counts)
        cuts = np.searchsorted(ends, np.arange(max_points, int(ends[-1]) + max_points, max_points), side="right")
        bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, n), [n]]))
        lin = self.to_ras[:3, :3].T.astype(np.float32)
        shift = self.to_ras[:3, 3].astype(np.float32)
        with open(self.path, "rb") as handle:
            for s0, s1 in zip(bounds[:-1], bounds[1:]):
                lengths = counts[s0:s1]
                offsets = np.zeros(len(lengths), dtype=np.int64)
                np.cumsum(lengths[:-1], out=offsets[1:])
                w0 = int(starts[s0])
                w1 = int(starts[s1]) if s1 < n else self.words
                words = self._read_words(handle, w0, w1 - w0, "f4")
                point_start = np.repeat(starts[s0:s1] - w0 + 1 - offsets * stride, lengths)
                first = point_start + np.arange(int(lengths.sum()), dtype=np.int64) * stride
                points = np.stack([words[first], words[first + 1], words[first + 2]], axis=1)
                points = points @ lin + shift
                yield Chunk(points.astype(np.float32, copy=False), offsets, lengths, int(s0))


def open_tractogram(tractogram, name: str | None = None, vtk_space: str | None = None) -> Tractogram:
    """A :class:`Tractogram` for a file path, an ArraySequence / flat arrays / list, or a Tractogram.

    Files: ``.tck`` and ``.trk`` are read in chunks from a memory map, ``.trx`` is memory-mapped,
    ``.vtk``/``.vtp`` are read whole; ``vtk_space`` ("RAS"/"LPS") is the frame of a VTK file
    without a ``SPACE`` tag (required for such files; a tag in the file wins).
    """
    if isinstance(tractogram, Tractogram):
        return tractogram
    if not isinstance(tractogram, (str, os.PathLike)):
        return ArrayTractogram(tractogram, name or "streamlines")
    path = Path(tractogram)
    source = f"{name} ({path})" if name else str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    if path.is_dir():
        raise InputError(source, "is a folder, not a tractogram file")
    suffix = path.suffix.lower()
    if suffix not in TRACTOGRAM_SUFFIXES:
        raise InputError(source, f"unsupported tractogram format {suffix!r}; use one of {', '.join(TRACTOGRAM_SUFFIXES)}")
    if vtk_space is not None and str(vtk_space).upper() not in SPACES:
        raise InputError("vtk_space", f"must be RAS or LPS, not {vtk_space!r}")
    try:
        if suffix == ".tck":
            return TckTractogram(path, source)
        if suffix == ".trk":
            return TrkTractogram(path, source)
        if suffix == ".trx":
            return ArrayTractogram(_read_trx(path), source, "RAS mm by the .trx format definition (memory-mapped)")
        streamlines, space_source = _read_vtk(path, vtk_space, source)
        return ArrayTractogram(streamlines, source, space_source)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(source, f"cannot be read as a {suffix} tractogram: {exc}") from None


def read_tractogram(path, name: str | None = None, space: str | None = None):
    """Read a whole tractogram file; return an ArraySequence in RAS mm.

    ``.trx`` positions stay memory-mapped. ``space`` ("RAS"/"LPS") is the frame of a
    ``.vtk``/``.vtp`` file that has no ``SPACE`` tag (such a file is refused without it).
    The returned sequence has ``space_source`` (how its frame was determined).
    """
    tractogram = open_tractogram(path, name, space)
    try:
        streamlines = tractogram.load()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(tractogram.source, f"cannot be read as a tractogram: {exc}") from None
    data, offsets, lengths = flat_arrays(streamlines, tractogram.source)
    if len(data) and not np.isfinite(np.asarray(data[: min(len(data), 1_000_000)])).all():
        raise InputError(tractogram.source, "contains NaN or infinite coordinates")
    streamlines.space_source = tractogram.space_source
    return streamlines


def _read_trx(path: Path):
    import trx.trx_file_memmap as tmm

    trx = tmm.load(str(path))
    streamlines = trx.streamlines
    streamlines._trx_file = trx  # keeps the TrxFile (and any extracted folder) alive
    return streamlines


def _vtk_space(text: str | None) -> str | None:
    if not text:
        return None
    upper = text.upper()
    for space in SPACES:
        if f"SPACE={space}" in upper.replace(" ", "") or upper.strip() == space:
            return space
    return None


def _read_vtk(path: Path, space: str | None, source: str):
    from vtkmodules.vtkIOLegacy import vtkPolyDataReader
    from vtkmodules.vtkIOXML import vtkXMLPolyDataReader

    if path.suffix.lower() == ".vtk":
        reader = vtkPolyDataReader()
        reader.SetFileName(str(path))
        if not reader.IsFilePolyData():
            raise InputError(source, "is not a VTK polydata file")
        reader.Update()
        polydata = reader.GetOutput()
        file_space = _vtk_space(reader.GetHeader())
    else:
        reader = vtkXMLPolyDataReader()
        reader.SetFileName(str(path))
        reader.Update()
        polydata = reader.GetOutput()
        field = polydata.GetFieldData().GetAbstractArray("SPACE") if polydata.GetFieldData() else None
        file_space = _vtk_space(field.GetValue(0)) if field is not None and field.GetNumberOfValues() else None
    if polydata is None or polydata.GetPoints() is None:
        raise InputError(source, "is not a readable VTK polydata file")
    if file_space:
        frame, how = file_space, f"{file_space} declared in the file (SPACE tag)"
    elif space:
        frame, how = space.upper(), f"{space.upper()} given by the caller (--vtk-space); the file has no SPACE tag"
    else:
        raise InputError(source, "this VTK file does not say whether its points are RAS or LPS (no SPACE tag; "
                                 "MRtrix3 tckconvert writes RAS, Slicer >= 4.11 writes LPS with a tag). "
                                 "Give the frame: --vtk-space RAS or --vtk-space LPS")
    return polydata_to_streamlines(polydata, frame), how


def polydata_to_streamlines(polydata, space: str = "RAS"):
    """ArraySequence (RAS mm, float32) from the line cells of a vtkPolyData whose points are in ``space``.

    Slicer keeps fibre bundle and model polydata in RAS in memory (``space="RAS"``).
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if polydata is None or polydata.GetPoints() is None or polydata.GetLines().GetNumberOfCells() == 0:
        return empty_streamlines()
    points = vtk_to_numpy(polydata.GetPoints().GetData())
    lines = polydata.GetLines()
    cell_offsets = vtk_to_numpy(lines.GetOffsetsArray()).astype(np.int64)
    connectivity = vtk_to_numpy(lines.GetConnectivityArray()).astype(np.int64)
    if len(connectivity) == len(points) and np.array_equal(connectivity, np.arange(len(points))):
        data = np.array(points, dtype=np.float32)
    else:
        data = np.asarray(points[connectivity], dtype=np.float32)
    if space.upper() == "LPS":
        data *= np.diag(LPS_TO_RAS).astype(np.float32)
    return make_streamlines(data, cell_offsets[:-1], np.diff(cell_offsets))


def streamlines_to_polydata(streamlines, space: str = "RAS"):
    """vtkPolyData with one line cell per streamline, points written in ``space`` (RAS or LPS)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData

    if space.upper() not in SPACES:
        raise InputError("space", f"must be RAS or LPS, not {space!r}")
    data, offsets, lengths = packed_arrays(streamlines)
    coords = np.ascontiguousarray(data, dtype=np.float32)
    if space.upper() == "LPS":
        coords = coords * np.diag(LPS_TO_RAS).astype(np.float32)
    points = vtkPoints()
    points.SetData(numpy_to_vtk(coords, deep=True))
    cells = vtkCellArray()
    cell_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    cells.SetData(numpy_to_vtkIdTypeArray(cell_offsets, deep=True),
                  numpy_to_vtkIdTypeArray(np.arange(len(coords), dtype=np.int64), deep=True))
    polydata = vtkPolyData()
    polydata.SetPoints(points)
    polydata.SetLines(cells)
    return polydata


# ----------------------------------------------------------------------------- writing

def write_tractogram(streamlines, path, affine=None, shape=None, space: str = VTK_WRITE_SPACE):
    """Write streamlines (RAS mm) to ``.tck``, ``.trk``, ``.trx``, ``.vtk`` or ``.vtp`` atomically.

    ``affine`` (4x4 voxel -> RAS) and ``shape`` describe the reference image stored in
    ``.trk``/``.trx`` headers (default: identity and a grid enclosing the points).
    ``.vtk``/``.vtp`` are written in ``space`` (LPS as Slicer does) with a ``SPACE=`` tag.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TRACTOGRAM_SUFFIXES:
        raise InputError(str(path), f"unsupported tractogram format {suffix!r}")
    data, offsets, lengths = packed_arrays(streamlines)
    data = np.ascontiguousarray(data, dtype=np.float32)
    affine = np.eye(4) if affine is None else np.asarray(affine, dtype=float)
    if shape is None:
        top = np.ceil(data.max(axis=0) + 1) if len(data) else np.ones(3)
        shape = tuple(int(max(v, 1)) for v in top)
    with temporary_file(path, suffix) as tmp:
        tmp.unlink()
        if suffix == ".tck":
            with TckWriter(tmp) as writer:
                writer.append(data, lengths)
        elif suffix in (".trk", ".trx"):
            _write_nibabel_or_trx(make_streamlines(data, offsets, lengths), str(tmp), suffix, affine, shape)
        else:
            _write_vtk(data, offsets, lengths, str(tmp), suffix, space.upper())
        _verify_tractogram(tmp, path, len(lengths), int(np.sum(lengths)), space.upper())
        commit_file(tmp, path)
    return path


def _verify_tractogram(tmp: Path, path: Path, count: int, points: int, space: str) -> None:
    """Read back what was written to ``tmp`` (structure, streamline and point counts) before it replaces ``path``."""
    problem = None
    try:
        suffix = tmp.suffix.lower()
        if suffix == ".tck":
            written = TckTractogram(tmp, str(path))
            if int(written.header.get("count", -1)) != count or written.rows != points + count + 1:
                problem = "its header count or data size does not match the streamlines"
        elif suffix == ".trk":
            counts = TrkTractogram(tmp, str(path)).records()[1]
            if len(counts) != count or int(np.sum(counts)) != points:
                problem = "it does not hold the streamlines written"
        else:
            streamlines = _read_trx(tmp) if suffix == ".trx" else _read_vtk(tmp, space, str(path))[0]
            found = (len(streamlines), int(np.sum(streamlines._lengths)) if len(streamlines) else 0)
            getattr(getattr(streamlines, "_trx_file", None), "close", lambda: None)()
            if found != (count, points):
                problem = "it does not hold the streamlines written"
    except InputError as exc:
        problem = exc.problem
    if problem:
        raise OutputError(path, f"was not written correctly ({problem}: disk full?); the previous file is unchanged")


class TckWriter:
    """Write a float32 little-endian MRtrix3 ``.tck`` block by block (vectorised; nothing held but one block).

    ``with TckWriter(path) as w: w.append(points (P, 3) RAS mm, lengths)``; the header's
    streamline count is filled in on close. Write to a temporary name and rename for atomicity
    (:func:`write_tractogram` does).
    """

    _HEADER = "mrtrix tracks\ndatatype: Float32LE\ncount: {count:012d}\nfile: . {offset:05d}\nEND\n"

    def __init__(self, path):
        self.path = Path(path)
        self.count = 0
        self.offset = len(self._HEADER.format(count=0, offset=0))
        self.handle = open(self.path, "wb")
        self.handle.write(b"\0" * self.offset)

    def append(self, points, lengths):
        lengths = np.asarray(lengths, dtype=np.int64)
        points = np.asarray(points)
        rows = np.full((len(points) + len(lengths), 3), np.nan, dtype="<f4")
        rows[np.arange(len(points)) + np.repeat(np.arange(len(lengths)), lengths)] = points
        self.handle.write(rows.tobytes())
        self.count += len(lengths)

    def close(self):
        self.handle.write(np.full(3, np.inf, dtype="<f4").tobytes())
        self.handle.seek(0)
        self.handle.write(self._HEADER.format(count=self.count, offset=self.offset).encode())
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.handle.close()


def _reference_header(affine, shape):
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(tuple(int(s) for s in shape))
    header.set_zooms(tuple(float(z) for z in np.linalg.norm(affine[:3, :3], axis=0)))
    header.set_sform(affine, code=1)
    header.set_qform(affine, code=1)
    return header


def _write_nibabel_or_trx(streamlines, tmp, suffix, affine, shape):
    import nibabel as nib
    from nibabel.streamlines import Field, Tractogram
    from nibabel.orientations import aff2axcodes

    tractogram = Tractogram(streamlines, affine_to_rasmm=np.eye(4))
    if suffix == ".trk":
        header = {Field.VOXEL_TO_RASMM: affine.astype(np.float32),
                  Field.DIMENSIONS: np.asarray(shape, dtype=np.int16),
                  Field.VOXEL_SIZES: np.linalg.norm(affine[:3, :3], axis=0).astype(np.float32),
                  Field.VOXEL_ORDER: "".join(aff2axcodes(affine))}
        nib.streamlines.save(tractogram, tmp, header=header)
    else:
        import trx.trx_file_memmap as tmm

        trx = tmm.TrxFile.from_tractogram(tractogram, reference=_reference_header(affine, shape))
        try:
            tmm.save(trx, tmp)
        finally:
            trx.close()


def _write_vtk(data, offsets, lengths, tmp, suffix, space):
    from vtkmodules.vtkCommonCore import vtkStringArray
    from vtkmodules.vtkIOLegacy import vtkPolyDataWriter
    from vtkmodules.vtkIOXML import vtkXMLPolyDataWriter

    polydata = streamlines_to_polydata(make_streamlines(data, offsets, lengths), space)
    if suffix == ".vtk":
        writer = vtkPolyDataWriter()
        writer.SetFileVersion(42)
        writer.SetFileTypeToBinary()
        writer.SetHeader(f"MSPathobiology tractogram. SPACE={space}")
    else:
        tag = vtkStringArray()
        tag.SetName("SPACE")
        tag.InsertNextValue(space)
        polydata.GetFieldData().AddArray(tag)
        writer = vtkXMLPolyDataWriter()
        writer.SetDataModeToAppended()
    writer.SetInputData(polydata)
    writer.SetFileName(tmp)
    if not writer.Write():
        raise InputError(tmp, "VTK writer failed")
