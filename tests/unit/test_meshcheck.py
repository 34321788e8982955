"""The mesh check on real files built with trimesh, the safe ZIP reader and the requirement
rules: right figures, the problems a preparer would flag, and bad input never raising."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import numpy as np
import pytest
import trimesh

from bot.projects import meshcheck, requirements, ziputil


def cube(size: float = 20.0) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(size, size, size))


def export(mesh: trimesh.Trimesh, file_type: str) -> bytes:
    data = mesh.export(file_type=file_type)
    return data.encode() if isinstance(data, str) else data


def holed(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The cube without one side (two triangles)."""
    out = mesh.copy()
    out.update_faces(np.arange(len(out.faces)) >= 2)
    out.remove_unreferenced_vertices()
    return out


@pytest.mark.parametrize("file_type", ["stl", "stl_ascii", "obj", "ply", "3mf"])
def test_a_clean_cube_in_every_mesh_format(file_type: str) -> None:
    ext = "stl" if file_type == "stl_ascii" else file_type
    report = meshcheck.analyse(export(cube(), file_type), f"cube.{ext}")
    assert report.status == "ok", report.note
    assert report.triangles == 12
    assert report.extents_mm == (20.0, 20.0, 20.0)
    assert report.volume_mm3 == pytest.approx(8000.0)
    assert report.watertight is True and report.problems == []


def test_a_hole_is_flagged_and_volume_not_claimed() -> None:
    report = meshcheck.analyse(export(holed(cube()), "stl"), "holed.stl")
    assert report.status == "ok" and report.watertight is False
    assert report.volume_mm3 is None
    assert report.triangles == 10
    assert any(p.startswith("holes: 4 open (boundary) edges") for p in report.problems)


def test_inverted_normals_show_as_negative_volume() -> None:
    inside_out = cube()
    inside_out.invert()
    report = meshcheck.analyse(export(inside_out, "stl"), "inside-out.stl")
    assert report.volume_mm3 == pytest.approx(8000.0)
    assert any("inverted normals" in p for p in report.problems)


def test_a_model_in_inches_is_flagged_with_the_scaled_size() -> None:
    inches = trimesh.creation.box(extents=(4.0, 2.0, 1.0))  # a 4 x 2 x 1 inch block
    report = meshcheck.analyse(export(inches, "stl"), "bracket-inch.stl")
    [hint] = [p for p in report.problems if "inches" in p]
    assert "101.6 x 50.8 x 25.4 mm" in hint


def test_a_normal_sized_part_is_not_taken_for_inches() -> None:
    assert not any("inch" in p for p in meshcheck.analyse(export(cube(15), "stl"),
                                                          "c.stl").problems)


def test_non_manifold_edges_are_counted() -> None:
    a = trimesh.creation.box(extents=(10, 10, 10))
    b = a.copy()
    b.apply_translation((10, 10, 0))  # touching along one edge only
    report = meshcheck.analyse(export(trimesh.util.concatenate([a, b]), "stl"), "pair.stl")
    assert "non-manifold edges: 1 edge shared by more than two triangles" in report.problems


@pytest.mark.parametrize("data", [b"", b"solid broken\nfacet normal x y z\n", b"\x00" * 84,
                                  bytes(range(256)) * 8, b"PK\x03\x04 not really a zip"])
@pytest.mark.parametrize("name", ["bad.stl", "bad.obj", "bad.ply", "bad.3mf"])
def test_corrupt_files_are_unreadable_not_errors(data: bytes, name: str) -> None:
    report = meshcheck.analyse(data, name)
    assert report.status == "unreadable"
    assert report.note.startswith("could not read the file")


def test_step_is_stored_not_analysed() -> None:
    report = meshcheck.analyse(b"ISO-10303-21;\nHEADER;\n", "housing.step")
    assert report.status == "not_analysed"
    assert report.note == ("stored, not analysed: STEP needs a CAD kernel; a preparer will "
                           "open it")


def test_a_3mf_zip_bomb_is_refused_before_trimesh_inflates_it() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("3D/3dmodel.model", b"\0" * 40_000_000)
    report = meshcheck.analyse(buffer.getvalue(), "bomb.3mf")
    assert report.status == "unreadable" and "ZIP bomb" in report.note


def test_analysis_reads_from_a_path(tmp_path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(export(cube(), "stl"))
    assert meshcheck.analyse(path, "cube.stl").triangles == 12


# --------------------------------------------------------------------------- ZIP reader


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_member_names_lose_every_path_part() -> None:
    handle = _zip({"../../etc/passwd.stl": b"a", "C:\\Users\\x\\part.obj": b"b",
                   "/abs/.hidden.ply": b"c", "dir/": b""})
    names = [m.name for m in ziputil.members(handle, ziputil.ZipLimits())]
    assert names == ["passwd.stl", "part.obj", "hidden.ply"]


def test_nested_archives_are_listed_not_opened() -> None:
    inner = _zip({"a.stl": b"x"}).getvalue()
    [member] = ziputil.members(_zip({"inner.zip": inner}), ziputil.ZipLimits())
    assert member.skip_reason == "archive inside the archive, not opened"


@pytest.mark.parametrize(("limits", "words"), [
    (ziputil.ZipLimits(max_ratio=50), "compression ratio"),
    (ziputil.ZipLimits(max_total_bytes=1_000_000), "unpacks to more than"),
    (ziputil.ZipLimits(max_members=1), "more than 1 files"),
])
def test_bombs_are_refused_on_the_directory(limits: ziputil.ZipLimits, words: str) -> None:
    handle = _zip({"a.stl": b"\0" * 3_000_000, "b.stl": b"\0" * 10})
    with pytest.raises(ziputil.UnsafeArchive, match=words):
        ziputil.members(handle, limits)


def test_reading_stops_past_the_limit() -> None:
    handle = _zip({"a.stl": b"1" * 3_000_000}, zipfile.ZIP_STORED)
    [member] = ziputil.members(handle, ziputil.ZipLimits())
    with pytest.raises(ziputil.UnsafeArchive):
        b"".join(ziputil.read_member(handle, member.info, limit=1_000_000))


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(ziputil.UnsafeArchive, match="not a readable ZIP"):
        ziputil.members(io.BytesIO(b"nope"), ziputil.ZipLimits())


# --------------------------------------------------------------------------- requirements


TODAY = date(2026, 11, 25)


def test_requirements_in_running_text() -> None:
    found = requirements.extract(
        "Please print on a Prusa MK4 in PETG with 0.2 mm layers, 12 copies, needed by "
        "15 December 2026. The part is 40 x 20 x 10 mm.", TODAY)
    assert found == requirements.Requirements("Prusa MK4", "PETG", 0.2, 12, date(2026, 12, 15))


def test_requirements_as_labelled_lines() -> None:
    found = requirements.extract("Printer: Bambu Lab X1C\nMaterial: PLA\nLayer height: 100 "
                                 "microns\nQty: 3\nDeadline: 2027-01-10", TODAY)
    assert found == requirements.Requirements("Bambu Lab X1C", "PLA", 0.1, 3, date(2027, 1, 10))
    assert found.as_specs().splitlines()[0] == "Printer: Bambu Lab X1C"


@pytest.mark.parametrize(("text", "expected"), [
    ("we need them within 2 weeks", date(2026, 12, 9)),
    ("deadline 12/25/2026", date(2026, 12, 25)),
    ("by 05/06/2027", None),  # day and month ambiguous: not guessed
    ("by Jan 5 please", date(2027, 1, 5)),  # year-less and past: next year
    ("before the 3rd of December", date(2026, 12, 3)),
    ("reply by email", None),
])
def test_deadlines(text: str, expected: date | None) -> None:
    assert requirements.deadline(text, TODAY) == expected


def test_dimensions_are_not_a_quantity_and_nothing_is_invented() -> None:
    found = requirements.extract("It measures 10 x 20 x 30 mm, see attached.", TODAY)
    assert found == requirements.Requirements()
    assert found.lines() == []
