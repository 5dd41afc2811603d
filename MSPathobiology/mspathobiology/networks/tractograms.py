"""Tractogram files (.tck, .trk, .trx, .vtk, .vtp) as flat point arrays in RAS mm.

A tractogram is held as a nibabel :class:`~nibabel.streamlines.ArraySequence`: one
flat ``(P, 3)`` float32 array of points in RAS mm (``._data``), the index of each
streamline's first point (``._offsets``) and its number of points (``._lengths``).

- ``.tck`` (MRtrix3) and ``.trk`` (TrackVis) are read through ``nibabel.streamlines``,
  which returns RAS mm ("RAS+ and mm" space, nibabel's ``affine_to_rasmm``).
- ``.trx`` (Rheault et al., "TRX: a community-oriented tractography file format",
  2023) is opened with ``trx-python``; its positions are RAS mm and stay
  memory-mapped (nothing is copied).
- ``.vtk`` / ``.vtp`` polydata with line cells, as SlicerDMRI fibre bundles and Slicer
  models are stored. Since Slicer 4.11 model files are written in LPS with the frame
  in the file: ``SPACE=LPS`` / ``SPACE=RAS`` in the legacy header line, or a ``SPACE``
  string array in the field data of XML files (``vtkMRMLModelStorageNode``). Untagged
  files are read as ``defaults.networks.VTK_UNTAGGED_SPACE`` unless ``space`` is given.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..defaults.networks import MAX_OUTSIDE_FRACTION, VTK_UNTAGGED_SPACE, VTK_WRITE_SPACE
from ..errors import InputError
from ..geometry import LPS_TO_RAS

TRACTOGRAM_SUFFIXES = (".tck", ".trk", ".trx", ".vtk", ".vtp")


def make_streamlines(data, offsets, lengths=None):
    """Wrap a flat ``(P, 3)`` point array and streamline offsets as an ArraySequence (no copy)."""
    from nibabel.streamlines import ArraySequence

    data = np.asarray(data) if not isinstance(data, np.memmap) else data
    offsets = np.asarray(offsets)
    if lengths is None:
        ends = np.append(offsets[1:], len(data)) if len(offsets) else offsets
        lengths = ends - offsets
    seq = ArraySequence()
    seq._data = data
    seq._offsets = offsets
    seq._lengths = np.asarray(lengths)
    return seq


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
        raise InputError(source, f"points must be an (N, 3) array, got shape {data.shape}")
    offsets = np.asarray(offsets, dtype=np.int64)
    if lengths is None:
        ends = np.append(offsets[1:], len(data)) if len(offsets) else offsets
        lengths = ends - offsets
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) != len(offsets):
        raise InputError(source, f"{len(offsets)} offsets but {len(lengths)} lengths")
    if len(offsets) and (offsets.min() < 0 or (offsets + lengths).max() > len(data)):
        raise InputError(source, "streamline offsets/lengths point outside the point array")
    return data, offsets, lengths


def is_packed(offsets, lengths) -> bool:
    """True when streamlines follow each other in the point array without gaps (offset_i+1 = offset_i + length_i)."""
    if len(offsets) == 0:
        return True
    return bool(offsets[0] == 0 and np.array_equal(offsets[1:], offsets[:-1] + lengths[:-1]))


def packed_arrays(streamlines, source: str = "streamlines"):
    """Like :func:`flat_arrays`, with consecutive streamlines and no trailing points (copies only if needed)."""
    data, offsets, lengths = flat_arrays(streamlines, source)
    if is_packed(offsets, lengths):
        return data[:int(lengths.sum())], offsets, lengths
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(offsets - starts, lengths)
    return np.asarray(data[index]), starts, lengths


def streamline_lengths_mm(streamlines, source: str = "streamlines") -> np.ndarray:
    """Arc length (mm) of every streamline: the sum of its segment lengths (0 for < 2 points)."""
    data, offsets, lengths = packed_arrays(streamlines, source)
    out = np.zeros(len(offsets))
    if len(data) < 2:
        return out
    seg = np.zeros(len(data))
    seg[:-1] = np.sqrt((np.diff(np.asarray(data, dtype=np.float64), axis=0) ** 2).sum(axis=1))
    last = offsets + lengths - 1
    seg[last[lengths > 0]] = 0.0
    nonempty = lengths > 0
    out[nonempty] = np.add.reduceat(seg, offsets[nonempty])
    return out


# ----------------------------------------------------------------------------- reading

def read_tractogram(path, name: str | None = None, space: str | None = None):
    """Read a tractogram file; return an ArraySequence in RAS mm.

    ``.trx`` positions stay memory-mapped. ``space`` ("RAS"/"LPS") overrides the frame of
    an untagged ``.vtk``/``.vtp`` file; a tag in the file always wins.
    """
    path = Path(path)
    source = f"{name} ({path})" if name else str(path)
    if not path.exists():
        raise InputError(source, "file not found")
    suffix = path.suffix.lower()
    if suffix not in TRACTOGRAM_SUFFIXES:
        raise InputError(source, f"unsupported tractogram format {suffix!r}; "
                                 f"use one of {', '.join(TRACTOGRAM_SUFFIXES)}")
    try:
        if suffix in (".tck", ".trk"):
            import nibabel as nib

            streamlines = nib.streamlines.load(str(path), lazy_load=False).streamlines
        elif suffix == ".trx":
            streamlines = _read_trx(path)
        else:
            streamlines = _read_vtk(path, space, source)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(source, f"cannot be read as a {suffix} tractogram: {exc}") from None
    data, _, _ = flat_arrays(streamlines, source)
    if len(data) and not np.isfinite(np.asarray(data[: min(len(data), 1_000_000)])).all():
        raise InputError(source, "contains NaN or infinite coordinates")
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
    for space in ("LPS", "RAS"):
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
    if polydata is None or polydata.GetPoints() is None or polydata.GetLines().GetNumberOfCells() == 0:
        raise InputError(source, "holds no line cells (streamlines)")
    frame = file_space or (space.upper() if space else VTK_UNTAGGED_SPACE)
    if frame not in ("RAS", "LPS"):
        raise InputError(source, f"space must be RAS or LPS, not {space!r}")
    return polydata_to_streamlines(polydata, frame)


def polydata_to_streamlines(polydata, space: str = "RAS"):
    """ArraySequence (RAS mm, float32) from the line cells of a vtkPolyData whose points are in ``space``.

    Slicer keeps fibre bundle and model polydata in RAS in memory (``space="RAS"``).
    """
    from vtkmodules.util.numpy_support import vtk_to_numpy

    if polydata is None or polydata.GetPoints() is None or polydata.GetLines().GetNumberOfCells() == 0:
        return make_streamlines(np.zeros((0, 3), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
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

    if space.upper() not in ("RAS", "LPS"):
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        if suffix in (".tck", ".trk", ".trx"):
            _write_nibabel_or_trx(make_streamlines(data, offsets, lengths), tmp, suffix, affine, shape)
        else:
            _write_vtk(data, offsets, lengths, tmp, suffix, space.upper())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
    if suffix == ".tck":
        nib.streamlines.save(tractogram, tmp)
    elif suffix == ".trk":
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


# ----------------------------------------------------------------------------- checks

def endpoint_voxels(data, offsets, lengths, affine):
    """Nearest voxel (i, j, k) of the first and last point of each streamline, as DIPY rounds.

    Returns ``(ijk, inside)``: int array ``(2, n, 3)`` and bool ``(2, n)`` (False for empty
    streamlines and points below index 0; the upper bound is checked by the caller, who
    knows the grid). As ``dipy.tracking.utils.connectivity_matrix``, the endpoints are
    stacked as an (n, 2, 3) array, mapped with ``np.dot`` by ``inv(affine)[:3, :3].T``,
    shifted by ``inv(affine)[:3, 3] + 0.5`` and truncated, so that indices are bit-identical.
    """
    inverse = np.linalg.inv(np.asarray(affine, dtype=float))
    lin_t = inverse[:3, :3].T.copy()
    shift = inverse[:3, 3] + 0.5
    n = len(offsets)
    dtype = data.dtype if np.issubdtype(data.dtype, np.floating) else np.float64
    ends = np.empty((n, 2, 3), dtype=dtype)
    nonempty = lengths > 0
    if len(data):
        ends[:, 0] = data[np.where(nonempty, offsets, 0)]
        ends[:, 1] = data[np.where(nonempty, offsets + lengths - 1, 0)]
    else:
        ends[:] = 0
    vox = np.dot(ends, lin_t)
    vox += shift
    vox = vox.transpose(1, 0, 2)
    inside = np.empty((2, n), dtype=bool)
    np.logical_and(vox[..., 0] >= -5e-7, vox[..., 1] >= -5e-7, out=inside)
    inside &= vox[..., 2] >= -5e-7
    inside &= nonempty
    return vox.astype(np.intp), inside


def check_inside(streamlines, shape, affine, source: str = "tractogram",
                 max_outside_fraction: float = MAX_OUTSIDE_FRACTION) -> float:
    """Raise :class:`InputError` when the tractogram lies outside the image grid.

    ``shape`` is the (i, j, k) grid size and ``affine`` its voxel -> RAS matrix. Returns the
    fraction of streamline endpoints outside the grid; more than ``max_outside_fraction``
    is refused (a different space or reference image, e.g. LPS read as RAS).
    """
    data, offsets, lengths = flat_arrays(streamlines, source)
    if len(offsets) == 0:
        raise InputError(source, "holds no streamlines")
    ijk, inside = endpoint_voxels(data, offsets, lengths, affine)
    for axis in range(3):
        inside &= ijk[..., axis] < shape[axis]
    fraction = 1.0 - inside.mean()
    if fraction > max_outside_fraction:
        lo = np.asarray(data[offsets]).min(axis=0)
        hi = np.asarray(data[offsets]).max(axis=0)
        corners = np.array([[i, j, k, 1] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                            for k in (0, shape[2] - 1)], dtype=float) @ np.asarray(affine, dtype=float).T
        raise InputError(source, f"{100 * fraction:.1f}% of streamline endpoints lie outside the parcellation "
                                 f"image (streamline starts span RAS {np.round(lo, 1).tolist()} to "
                                 f"{np.round(hi, 1).tolist()} mm; the image spans "
                                 f"{np.round(corners[:, :3].min(0), 1).tolist()} to "
                                 f"{np.round(corners[:, :3].max(0), 1).tolist()} mm). The tractogram is in "
                                 "another space or was made on another image (LPS vs RAS?)")
    return float(fraction)
