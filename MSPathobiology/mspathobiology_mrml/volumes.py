"""Scalar and labelmap volume nodes <-> SimpleITK images, exact in both directions.

MRML stores a volume as a ``vtkImageData`` (voxels only, unit spacing, zero origin) plus
the node's IJK-to-RAS matrix; SimpleITK stores spacing, origin and direction in LPS. The
matrix is converted with :func:`mspathobiology.geometry.voxel_to_ras` and
:func:`~mspathobiology.geometry.set_voxel_to_ras`, the project's only LPS/RAS conversion,
so oblique and flipped grids round-trip exactly. Voxel values and the pixel type are
copied unchanged (``sitk.GetArrayFromImage`` order [k, j, i] is VTK's memory order).

A parent transform of the node is not applied: the image is on the node's own grid, as
in Slicer's ``sitkUtils.PullVolumeFromSlicer``.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import vtk
from vtk.util import numpy_support

from mspathobiology.errors import InputError
from mspathobiology.geometry import set_voxel_to_ras, voxel_to_ras
from mspathobiology.io import validate_label_array

SCALAR_VOLUME_CLASS = "vtkMRMLScalarVolumeNode"
LABELMAP_VOLUME_CLASS = "vtkMRMLLabelMapVolumeNode"


def matrix_to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    """A ``vtkMatrix4x4`` as a 4x4 float array."""
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)], dtype=float)


def numpy_to_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    """A 4x4 array as a ``vtkMatrix4x4``."""
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def array_view(data_array) -> np.ndarray:
    """A flat numpy view of a single-component VTK data array (no copy).

    Like ``vtk.util.numpy_support.vtk_to_numpy`` without its in-place ``shape`` assignment,
    which NumPy 2.5 deprecates.
    """
    dtype = numpy_support.get_numpy_array_type(data_array.GetDataType())
    if data_array.GetNumberOfValues() == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(data_array, dtype=dtype, count=data_array.GetNumberOfValues())


def ijk_to_ras(volume_node) -> np.ndarray:
    """The node's 4x4 IJK (voxel index i, j, k) -> RAS mm matrix."""
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return matrix_to_numpy(matrix)


def _node_source(node) -> str:
    return f"volume node {node.GetName()!r}" if node is not None else "volume node"


def volume_to_image(volume_node) -> sitk.Image:
    """Copy a scalar (or labelmap) volume node into a new SimpleITK image (LPS geometry).

    Voxels and pixel type are kept exactly; spacing (mm), origin (mm) and direction come
    from the node's IJK-to-RAS matrix.
    """
    source = _node_source(volume_node)
    if volume_node is None or not volume_node.IsA("vtkMRMLVolumeNode"):
        raise InputError(source, "is not a volume node")
    image_data = volume_node.GetImageData()
    if image_data is None or image_data.GetPointData().GetScalars() is None:
        raise InputError(source, "has no voxel data")
    scalars = image_data.GetPointData().GetScalars()
    if scalars.GetNumberOfComponents() != 1:
        raise InputError(source, f"has {scalars.GetNumberOfComponents()} components per voxel; "
                                 "a scalar volume is required")
    extent = image_data.GetExtent()
    dims = [extent[1] - extent[0] + 1, extent[3] - extent[2] + 1, extent[5] - extent[4] + 1]
    array = array_view(scalars).reshape(dims[::-1])
    image = sitk.GetImageFromArray(np.array(array, copy=True))

    matrix = ijk_to_ras(volume_node)
    start = np.array([extent[0], extent[2], extent[4]], dtype=float)
    if start.any():  # image data whose extent does not start at 0: shift the origin to voxel (0, 0, 0)
        matrix[:3, 3] = matrix[:3, :3] @ start + matrix[:3, 3]
    set_voxel_to_ras(image, matrix)
    # Spacing kept as stored on the node (not re-derived from column norms): bit-exact round trips.
    image.SetSpacing(tuple(float(s) for s in volume_node.GetSpacing()))
    return image


def labelmap_node_to_image(labelmap_node) -> sitk.Image:
    """Copy a labelmap volume node into a SimpleITK UInt32 label image (the logic layer's label type).

    Raises :class:`InputError` if the voxels are not non-negative integers.
    """
    image = volume_to_image(labelmap_node)
    array = sitk.GetArrayViewFromImage(image)
    validate_label_array(array, _node_source(labelmap_node))
    out = sitk.GetImageFromArray(np.rint(array).astype(np.uint32) if array.dtype.kind == "f"
                                 else array.astype(np.uint32))
    out.CopyInformation(image)
    return out


def _image_data(image: sitk.Image) -> vtk.vtkImageData:
    array = sitk.GetArrayFromImage(image)
    image_data = vtk.vtkImageData()
    image_data.SetDimensions(*image.GetSize())
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(array).ravel(), deep=True)
    scalars.SetName("ImageScalars")
    image_data.GetPointData().SetScalars(scalars)
    return image_data


def _check_image(image: sitk.Image, name: str) -> None:
    if not isinstance(image, sitk.Image):
        raise InputError(name, f"expected a SimpleITK image, got {type(image).__name__}")
    if image.GetDimension() != 3:
        raise InputError(name, f"is a {image.GetDimension()}D image; a 3D volume is required")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(name, f"has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                               "a scalar image is required")


def image_to_volume(scene, image: sitk.Image, name: str, node=None, labelmap: bool = False):
    """Put a 3D scalar SimpleITK image into a scalar volume node (or a labelmap volume node).

    ``node``: an existing node to update (its class must match ``labelmap``); otherwise a new
    node named ``name`` is added to ``scene`` with default display nodes. For a labelmap, a
    floating-point image must hold integers and is stored as int32; integer images keep their
    pixel type. Returns the node.
    """
    _check_image(image, name)
    wanted = LABELMAP_VOLUME_CLASS if labelmap else SCALAR_VOLUME_CLASS
    if labelmap and image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        array = sitk.GetArrayFromImage(image)
        validate_label_array(array, name)
        cast = sitk.GetImageFromArray(np.rint(array).astype(np.int32))
        cast.CopyInformation(image)
        image = cast
    if node is None:
        if scene is None:
            raise InputError(name, "no scene given to add the volume node to")
        node = scene.AddNewNodeByClass(wanted, name)
        node.CreateDefaultDisplayNodes()
    elif node.GetClassName() != wanted:
        raise InputError(_node_source(node), f"is a {node.GetClassName()}; expected a {wanted} "
                                             f"(labelmap={labelmap})")
    node.SetIJKToRASMatrix(numpy_to_matrix(voxel_to_ras(image)))
    node.SetSpacing(image.GetSpacing())
    node.SetAndObserveImageData(_image_data(image))
    if node.GetDisplayNode() is None and node.GetScene() is not None:
        node.CreateDefaultDisplayNodes()
    return node
