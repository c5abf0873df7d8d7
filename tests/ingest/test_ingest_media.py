"""Media paths: only image files under a root, refused for every hostile path a payload may hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelloop.errors import ImportFormatError, LabelloopError, NotFound
from labelloop.ingest import media
from labelloop.ingest.images import ImageFolderImporter
from labelloop.ingest.media import open_media, open_under, resolve_media, root_of, sniff_image
from tests.media_swaps import outcome_of, pipe_seen_as_file, swap_after_check

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def root(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    (media / "cats").mkdir(parents=True)
    (media / "cats" / "a.png").write_bytes(PNG)
    (media / "fake.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    (media / "escape.png").symlink_to(outside)
    (media / "inside.png").symlink_to(media / "cats" / "a.png")
    (media / "loop.png").symlink_to(media / "loop.png")
    return media


def test_an_image_under_the_root_resolves_with_its_sniffed_type(root: Path) -> None:
    path, kind = resolve_media("cats/a.png", [root])
    assert path == (root / "cats" / "a.png").resolve()
    assert kind == "image/png"
    assert resolve_media("inside.png", [root])[0] == path  # a symlink that stays inside is fine


@pytest.mark.parametrize(
    ("hostile", "why"),
    [
        ("../../etc/passwd", "'..'"),
        ("notes.txt", "not an image"),
        ("../secret.png", "'..'"),
        ("cats/../../secret.png", "'..'"),
        ("/etc/passwd", "absolute"),
        ("/tmp/x.png", "absolute"),
        ("C:/Windows/win.png", "absolute"),
        ("escape.png", "outside the media root"),
        ("fake.png", "not a JPEG, PNG or WebP"),
        ("cats\\..\\..\\secret.png", "backslash"),
        ("a.png\x00.txt", "NUL"),
        ("", "non-empty"),
    ],
)
def test_hostile_paths_are_refused(root: Path, hostile: str, why: str) -> None:
    with pytest.raises(LabelloopError) as caught:
        resolve_media(hostile, [root])
    assert not isinstance(caught.value, NotFound)
    assert why in caught.value.message


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("loop.png", "cannot be read (a symlink loop)"),
        ("x" * 300 + ".png", "cannot be read (File name too long)"),
        ("cats/" * 1_000 + "a.png", "cannot be read (File name too long)"),
    ],
    ids=["symlink-loop", "long-name", "long-path"],
)
def test_a_path_the_system_cannot_open_is_refused_with_the_reason(
    root: Path, path: str, why: str
) -> None:
    with pytest.raises(LabelloopError) as caught:
        resolve_media(path, [root])
    assert not isinstance(caught.value, NotFound)
    assert caught.value.message.endswith(why)


def test_a_missing_file_is_not_found(root: Path) -> None:
    with pytest.raises(NotFound):
        resolve_media("cats/b.png", [root])


def test_magic_bytes() -> None:
    assert sniff_image(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"GIF89a") is None


def test_a_folder_outside_every_root_is_refused(tmp_path: Path, root: Path) -> None:
    assert root_of(root / "cats", [tmp_path / "other", root]) == root.resolve()
    with pytest.raises(LabelloopError, match="not under a media root"):
        root_of(tmp_path, [root])


def test_folder_importer_labels_by_subfolder(root: Path) -> None:
    (root / "dogs").mkdir()
    (root / "dogs" / "b.PNG").write_bytes(PNG)
    (root / "dogs" / "notes.txt").write_text("not an image")
    got = list(ImageFolderImporter(folder=root, root=root, labels_from_folders=True).read())
    by_path = {r.payload["image"]: r.label for r in got}
    assert by_path["cats/a.png"] == "cats"
    assert by_path["dogs/b.PNG"] == "dogs"
    assert by_path["fake.png"] is None  # top level: no label; its bytes are checked on import
    assert "dogs/notes.txt" not in by_path
    assert [r.line for r in got] == list(range(1, len(got) + 1))


def test_open_media_reads_the_file_it_checked(root: Path) -> None:
    file, found, kind = open_media("inside.png", [root])
    with file:
        assert (found, kind, file.read()) == ((root / "cats" / "a.png").resolve(), "image/png", PNG)


@pytest.mark.parametrize("swapped", ["file", "folder"])
def test_a_link_swapped_in_after_the_check_is_not_followed(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str
) -> None:
    """Someone who can write under the root puts a link out of it in place of the file (or of
    its folder) between the check and the open: nothing out of the root is read."""
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "a.png").write_bytes(PNG + b"secret")
    checked = media._found

    def then_swapped(path: str, roots: list[Path], **options: Any) -> tuple[Path, Path]:
        found = checked(path, roots, **options)
        if swapped == "file":
            (root / "cats" / "a.png").unlink()
            (root / "cats" / "a.png").symlink_to(secret / "a.png")
        else:
            (root / "cats").rename(root / "was")
            (root / "cats").symlink_to(secret)
        return found

    monkeypatch.setattr(media, "_found", then_swapped)
    with pytest.raises(LabelloopError, match="media path 'cats/a.png': changed while it was read"):
        open_media("cats/a.png", [root])


def test_a_named_pipe_in_a_files_place_is_refused_without_waiting(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap_after_check(monkeypatch, root / "cats" / "a.png", to=None)
    with pytest.raises(LabelloopError, match="changed while it was read"):
        open_media("cats/a.png", [root])


def test_a_pipe_in_a_files_place_as_it_is_checked_does_not_hang_the_open(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named pipe put in the file's place just after the check saw a file: open_media used
    to open it by path first (to sniff it), which waits for a writer that never comes, and
    the request's thread hung there for good."""
    pipe = root / "cats" / "b.png"
    pipe_seen_as_file(monkeypatch, pipe)
    outcome = outcome_of(lambda: open_media("cats/b.png", [root])[0].close(), pipe=pipe)
    assert isinstance(outcome, LabelloopError), outcome
    assert "changed while it was read" in outcome.message


_PEAK_OF_A_FOLDER_READ = """
import sys, tracemalloc
from pathlib import Path
from labelloop.ingest.images import ImageFolderImporter
importer = ImageFolderImporter(folder=Path(sys.argv[1]), root=Path(sys.argv[2]))
# Read once first: a first read's imports, and the interned strings of the names it meets
# (pathlib interns each part; the table's growth is one allocation of its own), are not
# what a read holds.
sum(1 for _ in importer.read())
tracemalloc.start()
n = sum(1 for _ in importer.read())
print(n, tracemalloc.get_traced_memory()[1])
"""


def test_a_folder_import_walks_in_path_order_and_keeps_no_path_in_memory(tmp_path: Path) -> None:
    """Files come in the order of their sorted paths (a folder's files at its name), and the
    importer holds a folder's names at a time, not every path: 6,000 images in 60 folders
    are read in well under what their paths take."""
    import subprocess
    import sys

    top = tmp_path / "media" / "shots"
    for n in range(60):
        (top / f"{n:02d}-folder-with-a-longish-name-to-take-room").mkdir(parents=True)
        for k in range(100):
            (top / f"{n:02d}-folder-with-a-longish-name-to-take-room" / f"{k}.png").touch()
    for name in ("a.png", "a", "a.png.d", "b.PNG", "._b.png"):
        (top / name).mkdir() if "." not in name or name.endswith(".d") else (top / name).touch()
    (top / "a" / "z.png").touch()
    (top / "a.png.d" / "y.png").touch()
    importer = ImageFolderImporter(folder=top, root=tmp_path / "media")
    # Measured in a process of its own: tracemalloc counts every thread's allocations, and a
    # thread an earlier test left in this one (a full run's) once added 7.7 MB to the peak.
    measured = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_A_FOLDER_READ, str(top), str(tmp_path / "media")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    n, held = int(measured[0]), int(measured[1])
    paths = [record.payload["image"].removeprefix("shots/") for record in importer.read()]
    assert n == len(paths) == 6_004
    expected = sorted(p for p in top.rglob("*") if p.suffix.lower() == ".png" and p.is_file())
    assert paths == [p.relative_to(top).as_posix() for p in expected if p.name != "._b.png"]
    assert paths[:4] == ["00-folder-with-a-longish-name-to-take-room/0.png", *paths[1:4]]
    assert paths.index("a/z.png") < paths.index("a.png") < paths.index("a.png.d/y.png")
    assert held < sum(len(p) for p in paths) // 2, held  # the paths' characters alone take more


def test_a_folder_import_names_the_file_of_an_error_and_the_one_it_cites(root: Path) -> None:
    importer = ImageFolderImporter(folder=root, root=root)
    records = list(importer.read())
    assert [r.payload["image"] for r in records][:2] == ["cats/a.png", "escape.png"]
    clash = ImportFormatError(line=3, reason=lambda cited: f"is {cited} again", cites=1)
    assert importer.named(clash).message == ("file 3 ('fake.png'): is file 1 ('cats/a.png') again")


def test_open_under_reads_a_found_file_and_nothing_a_path_climbs_or_links_to(
    root: Path, tmp_path: Path
) -> None:
    """The learner holds each file's path as open_media found it (absolute) and its root, and
    opens it long after: only down from the root, through no link."""
    found = open_media("cats/a.png", [root])[1]
    with open_under(found, root) as file:
        assert file.read() == PNG
    with open_under("cats/a.png", root) as file:  # relative: found as open_media finds it
        assert file.read() == PNG
    refused = [
        (f"{root}/cats/../../secret.png", "'..' is refused"),
        (str(tmp_path / "secret.png"), "outside the media root"),
        (f"{root}/escape.png", "changed while it was read"),  # a link, not followed
    ]
    for path, why in refused:
        with pytest.raises(LabelloopError) as caught:
            open_under(path, root)
        assert why in caught.value.message, path
        assert str(tmp_path) not in caught.value.message


def test_a_file_of_any_kind_is_opened_as_an_image_is(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YOLO folder's label file is no image: opened as of no kind, it is read as it is, and
    a link out of the root or a named pipe put in its place is refused as an image's is."""
    (root / "cats" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    file, found, kind = open_media("cats/a.txt", [root], kind=None)
    with file:
        assert (found.name, kind, file.read()) == (
            "a.txt",
            media.ANY_CONTENT,
            b"0 0.5 0.5 0.2 0.2\n",
        )
    with pytest.raises(LabelloopError, match="not an image file"):
        open_media("cats/a.txt", [root])  # an image is still one by its name and bytes
    with pytest.raises(LabelloopError, match="resolves outside the media root"):
        open_media("escape.png", [root], kind=None)
    swap_after_check(monkeypatch, root / "cats" / "a.txt", to=None)
    outcome = outcome_of(
        lambda: open_media("cats/a.txt", [root], kind=None), pipe=root / "cats" / "a.txt"
    )
    assert isinstance(outcome, LabelloopError)
    assert outcome.message == "media path 'cats/a.txt': changed while it was read; refused"
