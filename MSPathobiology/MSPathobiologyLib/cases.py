"""The case registry: what each module loads and saves for one case of a cohort.

MS Case Review knows no sibling module. Each module registers, when Slicer loads it, one
:class:`CaseParticipant` saying which of its parameter-node fields take which case images
(``inputs``), which of its outputs are saved per case and how (``outputs``), and optional hooks.
MS Case Review loops over :func:`participants`; adding an input or output to a module changes
that module's registration only. The pattern is SlicerCaseIterator's registered widgets.

Case node keys are the case's image keys (``flair``, ``t1``, ``qsm``, ``lesions``, ... as
``mspathobiology.bids`` names them), ``followup_t1`` for the next session's T1, and the keys of
the registered outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

#: How a saved output is written and read back.
KINDS = ("lesion_labels", "labels", "lesion_table", "table")


@dataclass(frozen=True)
class CaseFile:
    """One output saved per case: the parameter-node ``field`` holding it, the case node ``key``,
    the BIDS-derivatives name parts (``desc`` gets the reader name appended) and its ``kind``:
    ``lesion_labels`` (lesion segmentation, stable segment IDs), ``labels`` (segmentation),
    ``lesion_table`` (``mspathobiology.lesion_table`` schema) or ``table``."""

    field: str
    key: str
    desc: str
    suffix: str
    ext: str
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")


@dataclass
class CaseParticipant:
    """What one module takes from and gives to a case.

    ``parameterNode()`` returns the module's parameter node; ``inputs`` maps a field to a case node
    key, or to a tuple of keys of which the first present is used; ``loaders`` maps a case image
    key this module knows how to load to ``loader(path, name) -> node``; ``configure(parameterNode,
    case, nodes, context)`` sets anything else (``context``: ``reader``, ``caseFolder``);
    ``beforeSave(parameterNode, nodes)`` brings outputs up to date before they are saved.
    """

    module: str
    parameterNode: Callable
    inputs: dict = field(default_factory=dict)
    outputs: tuple = ()
    loaders: dict = field(default_factory=dict)
    configure: Callable | None = None
    beforeSave: Callable | None = None

    def fill(self, case, nodes: dict, context: dict) -> None:
        """Point the module's inputs and outputs at this case's nodes (None where the case has none)."""
        p = self.parameterNode()
        for name, keys in self.inputs.items():
            keys = keys if isinstance(keys, tuple) else (keys,)
            setattr(p, name, next((nodes[k] for k in keys if nodes.get(k) is not None), None))
        for output in self.outputs:
            setattr(p, output.field, nodes.get(output.key))
        if self.configure is not None:
            self.configure(p, case, nodes, context)

    def currentOutputs(self) -> dict:
        """``{key: node}`` of the outputs the module points at now (the reader may have made new ones)."""
        p = self.parameterNode()
        return {output.key: getattr(p, output.field) for output in self.outputs}


_participants: dict[str, CaseParticipant] = {}


def register(participant: CaseParticipant) -> None:
    """Register (or, after a module reload, replace) a module's participation in case review."""
    keys = {o.key for p in _participants.values() if p.module != participant.module for o in p.outputs}
    clash = keys & {o.key for o in participant.outputs}
    if clash:
        raise ValueError(f"{participant.module}: output keys {sorted(clash)} are already saved by another module")
    _participants[participant.module] = participant


def participants() -> list[CaseParticipant]:
    """The registered modules, in registration order."""
    return list(_participants.values())


def caseFiles() -> dict[str, CaseFile]:
    """``{key: CaseFile}`` of every output any registered module saves per case."""
    return {o.key: o for p in _participants.values() for o in p.outputs}


def loaders() -> dict:
    """``{case image key: loader(path, name)}`` contributed by the registered modules."""
    return {key: loader for p in _participants.values() for key, loader in p.loaders.items()}
