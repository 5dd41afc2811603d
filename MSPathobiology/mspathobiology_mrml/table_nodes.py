"""Rows (list of dicts) <-> table nodes with typed columns, exact in both directions.

Each column gets one logical type, recorded in the column property
:data:`~mspathobiology_mrml.defaults.COLUMN_TYPE_PROPERTY` (saved in the table's
``.schema.tsv``/``.schema.csv`` by ``vtkMRMLTableStorageNode``), and is stored in the
VTK array Slicer shows and sorts naturally:

============  ==========================  ===============================================
logical type  no missing values           with missing (None) values
============  ==========================  ===============================================
int           ``vtkLongLongArray``        ``vtkStringArray`` of decimal text, "" = None
float         ``vtkDoubleArray``          ``vtkDoubleArray``, NaN = None
bool          ``vtkBitArray``             ``vtkStringArray`` "true"/"false", "" = None
str           ``vtkStringArray``          ``vtkStringArray``, "" = None
============  ==========================  ===============================================

As in :mod:`mspathobiology.tables` (the project's one table format), NaN and the empty
string mean "missing" and come back as None. A string column without the type property
(for example a TSV written by :func:`mspathobiology.tables.write_table` and loaded
without a schema) is typed cell by cell with :func:`mspathobiology.tables.parse_value`,
exactly as :func:`mspathobiology.tables.read_table` reads it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import vtk
from vtk.util import numpy_support

from mspathobiology.errors import InputError
from mspathobiology.tables import parse_value

from .defaults import COLUMN_TYPE_PROPERTY
from .volumes import array_view

LOGICAL_TYPES = ("int", "float", "bool", "str")
_INT64 = (-(2**63), 2**63 - 1)


def _kind(value) -> str | None:
    """Logical type of one cell (None for a missing value)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (numbers.Integral, np.integer)):
        return "int"
    if isinstance(value, (numbers.Real, np.floating)):
        return None if math.isnan(float(value)) else "float"
    if isinstance(value, str):
        return None if value == "" else "str"
    raise InputError("rows", f"cell value {value!r} of type {type(value).__name__} is not int, float, bool or str")


def column_type(values, column: str = "column") -> str:
    """The logical type of a column: int, float (ints mixed with floats), bool or str."""
    kinds = {_kind(v) for v in values} - {None}
    if not kinds:
        return "str"
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"int", "float"}:
        return "float"
    raise InputError(column, f"mixes value types {sorted(kinds)}; a column must hold one type")


def _missing(value) -> bool:
    return _kind(value) is None


def _array_for(column: str, kind: str, values: list):
    has_missing = any(_missing(v) for v in values)
    if kind == "float":
        data = np.array([math.nan if _missing(v) else float(v) for v in values], dtype=np.float64)
        array = numpy_support.numpy_to_vtk(data, deep=True)  # a vtkDoubleArray
    elif kind == "int" and not has_missing:
        too_big = [v for v in values if not _INT64[0] <= int(v) <= _INT64[1]]
        if too_big:
            raise InputError(column, f"integer {too_big[0]} does not fit in 64 bits")
        array = numpy_support.numpy_to_vtk(np.array([int(v) for v in values], dtype=np.int64), deep=True)
    elif kind == "bool" and not has_missing:
        array = vtk.vtkBitArray()
        for v in values:
            array.InsertNextValue(1 if v else 0)
    else:  # str, and int / bool columns with missing values
        array = vtk.vtkStringArray()
        for v in values:
            if _missing(v):
                array.InsertNextValue("")
            elif kind == "bool":
                array.InsertNextValue("true" if v else "false")
            else:
                array.InsertNextValue(str(int(v)) if kind == "int" else str(v))
    array.SetName(column)
    return array


def rows_to_table(scene, rows, name: str, columns=None, node=None):
    """Put ``rows`` (dicts column -> int/float/bool/str/None) into a table node.

    ``columns`` fixes the column order (default: keys in first-seen order); a key missing
    from a row is a missing value. ``node``: an existing table node to overwrite; otherwise
    a new node ``name`` is added to ``scene``. Returns the node.
    """
    rows = list(rows)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError("rows", f"row {index} is a {type(row).__name__}, not a dict")
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    columns = [str(c) for c in columns]
    if len(set(columns)) != len(columns):
        raise InputError("columns", "column names repeat")
    if node is None:
        if scene is None:
            raise InputError(name, "no scene given to add the table node to")
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    elif not node.IsA("vtkMRMLTableNode"):
        raise InputError(node.GetName(), f"is a {node.GetClassName()}, not a table node")
    was_modifying = node.StartModify()
    try:
        node.RemoveAllColumns()
        node.SetAndObserveSchema(None)  # drops every column property
        for column in columns:
            values = [row.get(column) for row in rows]
            kind = column_type(values, column)
            node.AddColumn(_array_for(column, kind, values))
            node.SetColumnProperty(column, COLUMN_TYPE_PROPERTY, kind)
    finally:
        node.EndModify(was_modifying)
    return node


def _declared_type(table_node, column: str) -> str | None:
    kind = table_node.GetColumnProperty(column, COLUMN_TYPE_PROPERTY)
    return kind if kind in LOGICAL_TYPES else None


def _column_values(table_node, array) -> list:
    column = array.GetName()
    n = array.GetNumberOfTuples()
    kind = _declared_type(table_node, column)
    if array.GetNumberOfComponents() != 1:
        raise InputError(table_node.GetName(), f"column {column!r} has {array.GetNumberOfComponents()} components")
    if isinstance(array, vtk.vtkStringArray):
        texts = [array.GetValue(i) for i in range(n)]
        if kind == "str":
            return [t if t != "" else None for t in texts]
        if kind == "int":
            return [int(t) if t != "" else None for t in texts]
        if kind == "bool":
            return [None if t == "" else t.lower() == "true" for t in texts]
        if kind == "float":
            return [None if t == "" or math.isnan(float(t)) else float(t) for t in texts]
        return [parse_value(t) for t in texts]
    if isinstance(array, vtk.vtkBitArray):
        return [bool(array.GetValue(i)) for i in range(n)]
    if isinstance(array, vtk.vtkDataArray):
        data = array_view(array)
        if array.GetDataType() in (vtk.VTK_FLOAT, vtk.VTK_DOUBLE):
            convert = {"int": int, "bool": bool}.get(kind, float)
            return [None if math.isnan(v) else convert(v) for v in data.astype(np.float64).tolist()]
        values = data.tolist()
        return [bool(v) for v in values] if kind == "bool" else [int(v) for v in values]
    return [parse_value(array.GetVariantValue(i).ToString()) for i in range(n)]


def table_to_rows(table_node) -> list[dict]:
    """Read a table node into a list of row dicts (int, float, bool, str; None for missing)."""
    if table_node is None or not table_node.IsA("vtkMRMLTableNode"):
        raise InputError("table", "is not a table node")
    table = table_node.GetTable()
    columns = [table.GetColumn(i) for i in range(table.GetNumberOfColumns())]
    names = [c.GetName() for c in columns]
    values = [_column_values(table_node, c) for c in columns]
    return [dict(zip(names, cells)) for cells in zip(*values)] if columns else []
