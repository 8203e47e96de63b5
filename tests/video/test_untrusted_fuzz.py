"""Fuzz the manifest reader and ``frames extract`` with generated hostile rows mixed into good ones.

Asserted for every generated manifest: no exception escapes (the CLI answers with an exit code), every good row is
kept, and nothing is opened outside the roots the user gave (Python-level opens via an audit hook, FFmpeg opens via
``av.open``) nor written outside the clip store.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import av
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from video_media import encode_video, write_jpeg_folder

import hieroaction
from hieroaction.cli import main
from hieroaction.datasets import load_manifest
from hieroaction.datasets.validate import validate_samples

CODE_ROOT = Path(hieroaction.__file__).resolve().parents[1]
HOSTILE_PATHS = [
    "/etc/passwd",
    "../outside/secret.mp4",
    "good/../../outside/secret.mp4",
    "link_out.mp4",
    "frames_link",
    "file:///etc/passwd",
    "file:/etc/passwd",
    "http://127.0.0.1:9/x.mp4",
    "s3://bucket/x.mp4",
    "",
    "a\x00b.mp4",
    "x" * 5000,
    "C:\\videos\\x.mp4",
    "..",
    ".",
    "v.mp4/../../outside/secret.mp4",
]
HOSTILE_VALUES = [math.nan, math.inf, -math.inf, -1, 10**30, 1e300, "abc", None, True, [], {}, [[[[1]]]], "9" * 3000]
FIELDS = ["sample_id", "split", "video_path", "video_kind", "start_frame", "end_frame", "action_code", "final_score",
          "difficulty", "judge_scores", "steps", "frame_labels", "source_key", "extra"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


def good_row(i: int, kind: str) -> dict:
    """Good rows each have their own clip (a clip shared across splits would be a leak: every copy quarantined)."""
    path = "v.mp4" if kind == "video" else "frames"
    start = 10 + 8 * i
    return {"sample_id": f"good/{i}", "split": "train", "video_path": path, "video_kind": kind, "start_frame": start,
            "end_frame": start + 7, "action_code": "107b", "final_score": 60.0, "difficulty": 2.0,
            "judge_scores": [7.0, 7.5, 7.0, 7.0, 6.5]}


@st.composite
def hostile_row(draw, n: int):
    """A row that is broken or malicious in one or more fields (never reusing a good row's id)."""
    row = good_row(4, draw(st.sampled_from(["video", "frames"])))  # frames 42..49: no good row's clip
    row["sample_id"] = draw(st.sampled_from([f"bad/{n}", "", "../../x", "a" * 2000, "bad/dup", None, 5, ["x"]]))
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        if field == "sample_id":
            continue
        choice = draw(st.integers(0, 2))
        if field == "video_path" and choice < 2:
            row[field] = draw(st.sampled_from(HOSTILE_PATHS))
        elif choice == 0:
            row[field] = draw(st.sampled_from(HOSTILE_VALUES))
        else:
            row[field] = draw(json_values)
    return row


@st.composite
def manifests(draw):
    """(rows as written, ids of the good rows, format). Rows: dicts, or raw garbage lines."""
    count = draw(st.integers(1, 4))
    rows, good = [], []
    for i in range(count):
        row = good_row(i, draw(st.sampled_from(["video", "frames"])))
        rows.append(row)
        good.append(row["sample_id"])
    for n in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            rows.insert(draw(st.integers(0, len(rows))), draw(hostile_row(n)))
        else:
            garbage = draw(st.sampled_from(["{", "[" * 3000, "null", '"text"', "\x00\x01", "[1,2]", "{}"]))
            rows.insert(draw(st.integers(0, len(rows))), garbage)
    return rows, good, draw(st.sampled_from(["jsonl", "csv"]))


def write_rows(path: Path, rows, fmt: str) -> None:
    if fmt == "jsonl":
        lines = [r if isinstance(r, str) else json.dumps(r, allow_nan=True) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for row in rows:
        if isinstance(row, str):
            buffer.write(row.replace("\x00", "") + "\n")
            continue
        cells = []
        for field in FIELDS:
            value = row.get(field, "")
            cells.append(json.dumps(value) if isinstance(value, list | dict) else ("" if value is None else value))
        writer.writerow(cells)
    path.write_text(buffer.getvalue().replace("\x00", ""), encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """media/ (a video, a frame folder, links leading out) and outside/ (what must never be read)."""
    base = tmp_path_factory.mktemp("fuzz")
    media, outside = base / "media", base / "outside"
    media.mkdir()
    outside.mkdir()
    encode_video(media / "v.mp4", 50, gop=10, height=32, width=48)
    write_jpeg_folder(media / "frames", range(50), height=32, width=48)
    encode_video(outside / "secret.mp4", 50, gop=10, height=32, width=48)
    write_jpeg_folder(outside / "secret_frames", range(50), height=32, width=48)
    os.symlink(outside / "secret.mp4", media / "link_out.mp4")
    os.symlink(outside / "secret_frames", media / "frames_link")
    return base, media, outside


class OpenRecorder:
    """Every file opened while active: Python opens (audit hook, installed once) and FFmpeg opens (``av.open``)."""

    active: OpenRecorder | None = None
    installed = False

    def __init__(self) -> None:
        self.paths: list[str] = []

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True

    @classmethod
    def _hook(cls, event, args):
        if cls.active is not None and event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
            target = args[0]
            if isinstance(target, str | bytes | os.PathLike):
                cls.active.paths.append(os.fsdecode(target))

    @contextlib.contextmanager
    def recording(self, monkeypatch):
        real_open = av.open

        def recorded(file, *args, **kwargs):
            if isinstance(file, str | os.PathLike):
                self.paths.append(os.fspath(file))
            return real_open(file, *args, **kwargs)

        self.install()
        monkeypatch.setattr(av, "open", recorded)
        OpenRecorder.active = self
        try:
            yield self
        finally:
            OpenRecorder.active = None
            monkeypatch.setattr(av, "open", real_open)

    def outside(self, roots) -> list[str]:
        """Opened paths under none of ``roots`` (system files such as Python's own modules are not user paths)."""
        bad = []
        for path in self.paths:
            if not os.path.isabs(path):
                path = os.path.abspath(path)
            resolved = Path(os.path.realpath(path))
            if any(resolved.is_relative_to(root) for root in roots):
                continue
            if resolved.is_relative_to(Path(sys.prefix).resolve()) or str(resolved).startswith(("/proc", "/dev", "/sys")):
                continue
            if resolved.is_relative_to(CODE_ROOT):  # Python importing the project's own modules
                continue
            if "site-packages" in str(resolved) or "/lib/python" in str(resolved) or "/usr/" in str(resolved):
                continue
            bad.append(str(resolved))
        return bad


FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@FUZZ
@given(case=manifests())
def test_manifest_reader_survives_hostile_rows(world, monkeypatch, case):
    base, media, outside = world
    rows, good, fmt = case
    work = Path(tempfile.mkdtemp(dir=base))
    manifest = work / f"m.{fmt}"
    write_rows(manifest, rows, fmt)
    with OpenRecorder().recording(monkeypatch) as opened:
        loaded = load_manifest(manifest, media_root=media)
        report = validate_samples(loaded.samples, media_root=media, origins=loaded.origins)
    assert [s.sample_id for s in report.good if s.sample_id.startswith("good/")] == good
    assert loaded.count_in >= len(good)
    assert not opened.outside([media.resolve(), work.resolve()])
    for q in loaded.quarantined + report.quarantined:
        json.dumps(q.to_dict())  # every record can be reported


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=manifests(), sampler=st.sampled_from(["uniform", "all", "core"]))
def test_frames_extract_survives_hostile_rows(world, monkeypatch, capsys, case, sampler):
    base, media, outside = world
    rows, good, fmt = case
    work = Path(tempfile.mkdtemp(dir=base))
    manifest, out = work / f"m.{fmt}", work / "clips"
    write_rows(manifest, rows, fmt)
    before_outside = sorted(p.name for p in outside.rglob("*"))
    before_media = sorted(str(p) for p in media.rglob("*"))
    argv = ["frames", "extract", "manifest", str(manifest), "--media-root", str(media), "--out", str(out),
            "--sampler", sampler, "--count", "4", "--size", "16x16", "--workers", "2"]
    with OpenRecorder().recording(monkeypatch) as opened:
        code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 3) and "Traceback" not in captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["written"] + summary["skipped"] >= len(good)
    stored = {str(p.relative_to(out / summary["key"])).split(".")[0] for p in out.rglob("*.npy")}
    assert stored >= set(good)  # every good row kept (a hostile-looking row may be harmless and kept too)
    assert not opened.outside([media.resolve(), work.resolve()])
    assert sorted(p.name for p in outside.rglob("*")) == before_outside
    assert sorted(str(p) for p in media.rglob("*")) == before_media
    written = [p for p in work.rglob("*") if p.is_file() and p != manifest]
    assert all(p.is_relative_to(out) for p in written)  # nothing written outside the clip store
