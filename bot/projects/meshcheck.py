"""A preparer's first look at a model file, with trimesh: size, triangles, volume, watertight,
and the problems worth flagging (non-manifold edges, holes, inverted normals, inch units).

Files are parsed as data only: nothing is executed, OBJ material/texture references are not
followed (no resolver), a 3MF is checked as a ZIP (bomb guard) before trimesh opens it, and
STEP is stored without analysis (trimesh needs a CAD kernel for it). Units are taken as mm,
which is what STL/OBJ/PLY conventionally mean and what 3MF declares by default.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.projects import ziputil

if TYPE_CHECKING:  # imported on the first model file: trimesh (with scipy) is ~60 MB resident
    import trimesh

log = logging.getLogger(__name__)

MESH_FORMATS = {"stl": "stl", "obj": "obj", "3mf": "3mf", "ply": "ply"}
CAD_FORMATS = frozenset({"step", "stp"})
MODEL_EXTENSIONS = frozenset(MESH_FORMATS) | CAD_FORMATS
INCH_MM = 25.4
INCH_SUSPECT_BELOW_MM = 12.0  # every side under this ...
INCH_PLAUSIBLE_MM = (20.0, 1500.0)  # ... and the largest side x25.4 is a printable size

OK, UNREADABLE, NOT_ANALYSED = "ok", "unreadable", "not_analysed"


@dataclass(frozen=True)
class MeshReport:
    """What the check found for one file; figures are None when not analysed."""

    filename: str
    format: str
    status: str  # ok, unreadable, not_analysed
    note: str = ""
    triangles: int | None = None
    extents_mm: tuple[float, float, float] | None = None
    volume_mm3: float | None = None
    watertight: bool | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"filename": self.filename, "format": self.format, "status": self.status,
                "note": self.note, "triangles": self.triangles,
                "extents_mm": list(self.extents_mm) if self.extents_mm else None,
                "volume_mm3": self.volume_mm3, "watertight": self.watertight,
                "problems": list(self.problems)}


def extension(filename: str) -> str:
    return filename.rpartition(".")[2].lower() if "." in filename else ""


def is_model_file(filename: str) -> bool:
    return extension(filename) in MODEL_EXTENSIONS


def analyse(source: Path | bytes, filename: str) -> MeshReport:
    """Analyse one model file; never raises for a bad file (status "unreadable" instead)."""
    ext = extension(filename)
    if ext in CAD_FORMATS:
        return MeshReport(filename, ext, NOT_ANALYSED, "stored, not analysed: STEP needs a CAD "
                          "kernel; a preparer will open it")
    if ext not in MESH_FORMATS:
        return MeshReport(filename, ext, NOT_ANALYSED, "stored, not analysed: not a mesh format")
    data = source.read_bytes() if isinstance(source, Path) else source
    problem = _container_problem(ext, data)
    if problem:
        return MeshReport(filename, ext, UNREADABLE, f"could not read the file: {problem}")
    try:
        mesh = _load(data, MESH_FORMATS[ext])
    except Exception as exc:  # any parser failure is a bad file, not a bot failure
        log.info("mesh check: %s file unreadable (%s)", ext, type(exc).__name__)
        return MeshReport(filename, ext, UNREADABLE, "could not read the file: it is damaged "
                          f"or not a valid {ext.upper()} file")
    if len(mesh.faces) == 0:
        return MeshReport(filename, ext, UNREADABLE, "could not read the file: no triangles "
                          f"found (damaged or not a valid {ext.upper()} file)")
    return _report(mesh, filename, ext)


def _container_problem(ext: str, data: bytes) -> str | None:
    """A 3MF is a ZIP: refuse bombs before trimesh inflates it."""
    if ext != "3mf":
        return None
    try:
        ziputil.check_archive(io.BytesIO(data), ziputil.ZipLimits())
    except ziputil.UnsafeArchive as exc:
        return str(exc)
    return None


def _load(data: bytes, file_type: str) -> trimesh.Trimesh:
    import trimesh

    with warnings.catch_warnings():
        # numpy's divide/invalid warnings on degenerate triangles are findings, not errors
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(trimesh|numpy)\.")
        mesh = trimesh.load(io.BytesIO(data), file_type=file_type, force="mesh", process=True,
                            skip_materials=True)
    if not isinstance(mesh, trimesh.Trimesh):
        raise ValueError("no single mesh")
    return mesh


def _report(mesh: trimesh.Trimesh, filename: str, ext: str) -> MeshReport:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(trimesh|numpy)\.")
        extents = tuple(round(float(x), 2) for x in mesh.extents)
        watertight = bool(mesh.is_watertight)
        volume = round(float(mesh.volume), 2) if watertight else None
        problems = _problems(mesh, tuple(float(x) for x in mesh.extents), volume)
    return MeshReport(filename, ext, OK, triangles=len(mesh.faces),
                      extents_mm=extents,  # type: ignore[arg-type]
                      volume_mm3=abs(volume) if volume is not None else None,
                      watertight=watertight, problems=problems)


def _problems(mesh: trimesh.Trimesh, extents: tuple[float, ...],
              volume: float | None) -> list[str]:
    found = []
    open_edges, shared_edges = _edge_counts(mesh)
    if shared_edges:
        found.append(f"non-manifold edges: {_count(shared_edges, 'edge')} shared by more than "
                     "two triangles")
    if open_edges:
        found.append(f"holes: {_count(open_edges, 'open (boundary) edge')}, the mesh is not "
                     "closed")
    if not mesh.is_winding_consistent:
        found.append("inconsistent normals: some triangles face the wrong way")
    elif volume is not None and volume < 0:
        found.append("inverted normals: the volume is negative (the mesh is inside out)")
    degenerate = int(np.count_nonzero(mesh.area_faces <= 1e-12))
    if degenerate:
        found.append(f"degenerate triangles: {_count(degenerate, 'triangle')} with zero area")
    inches = _inch_hint(extents)
    if inches:
        found.append(inches)
    return found


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _edge_counts(mesh: trimesh.Trimesh) -> tuple[int, int]:
    """(edges used by one face, edges used by more than two faces)."""
    edges = mesh.edges_sorted
    if len(edges) == 0:
        return 0, 0
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int(np.count_nonzero(counts == 1)), int(np.count_nonzero(counts > 2))


def _inch_hint(extents: tuple[float, ...]) -> str | None:
    largest = max(extents)
    low, high = INCH_PLAUSIBLE_MM
    if largest >= INCH_SUSPECT_BELOW_MM or not low <= largest * INCH_MM <= high:
        return None
    scaled = " x ".join(f"{x * INCH_MM:.1f}" for x in extents)
    return (f"units look like inches: the model is only {largest:.2f} mm at its largest; "
            f"read as inches it would be {scaled} mm")
