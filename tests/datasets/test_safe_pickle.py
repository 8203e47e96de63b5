"""The restricted unpickler: real annotation pickles load, anything that could run code is refused unexecuted."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from hieroaction.datasets import bundled_root
from hieroaction.datasets.safe_pickle import PickleReadError, UnsafePickleError, load_pickle, loads_pickle

REAL_PICKLES = sorted(bundled_root().rglob("*.pkl"))


class _SystemCall:
    """Pickles into ``os.system(command)``: what a hostile annotation file would contain."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _EvalCall:
    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def test_all_real_pickles_load():
    assert len(REAL_PICKLES) == 12
    for path in REAL_PICKLES:
        assert load_pickle(path) is not None, path


def test_hostile_reduce_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "FineDiving_coarse_annotation.pkl"
    # hidden inside an otherwise plausible annotation dict
    payload = {("video", 1): {"action_type": "107b", "start_frame": _SystemCall(f"touch {marker}")}}
    hostile.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(hostile)
    assert not marker.exists(), "the hostile pickle ran"
    message = str(info.value)
    assert str(hostile) in message
    assert "system" in message and info.value.module in ("posix", "os", "nt")
    # sanity: the same bytes really do run under plain pickle (so the test above can fail)
    pickle.loads(hostile.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    "obj, global_name",
    [
        (_EvalCall("1+1"), "builtins.eval"),
        (subprocess.Popen, "subprocess.Popen"),
        (np.load, "numpy.load"),  # numpy is allowed only for array/scalar/dtype reconstruction
    ],
)
def test_other_globals_refused(obj, global_name):
    with pytest.raises(UnsafePickleError) as info:
        loads_pickle(pickle.dumps(obj), path="x.pkl")
    assert global_name in str(info.value)
    assert str(info.value).startswith("x.pkl:")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_arrays_scalars_dtypes_roundtrip(protocol):
    data = {
        ("01", 1): {
            "labels": np.arange(12, dtype=np.int64).reshape(3, 4),
            "scores": np.array([9.5, 9.0, 8.5], dtype=np.float32),
            "score": np.float64(88.0),
            "count": np.int32(7),
            "flag": np.bool_(True),
            "dtype": np.dtype("<u2"),
            "names": {np.int64(4): "Inward"},
            "objects": np.array(["a", 1], dtype=object),
            "set": {1, 2},
        }
    }
    loaded = loads_pickle(pickle.dumps(data, protocol=protocol))
    entry = loaded[("01", 1)]
    np.testing.assert_array_equal(entry["labels"], data[("01", 1)]["labels"])
    assert entry["scores"].dtype == np.float32
    assert entry["score"] == 88.0 and isinstance(entry["score"], np.float64)
    assert entry["count"] == 7 and entry["flag"]
    assert entry["dtype"] == np.dtype("<u2")
    assert entry["names"] == {4: "Inward"}
    assert list(entry["objects"]) == ["a", 1]
    assert entry["set"] == {1, 2}


def test_object_array_cannot_smuggle_a_call(tmp_path):
    marker = tmp_path / "pwned"
    arr = np.array([_SystemCall(f"touch {marker}")], dtype=object)
    with pytest.raises(UnsafePickleError):
        loads_pickle(pickle.dumps(arr))
    assert not marker.exists()


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(PickleReadError, match="cannot read"):
        load_pickle(tmp_path / "nope.pkl")
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(pickle.dumps({"a": list(range(100))})[:-20])
    with pytest.raises(PickleReadError, match="broken.pkl: not a readable pickle"):
        load_pickle(broken)


def test_cli_refuses_hostile_pickle_in_a_real_process(tmp_path, finediving_copy):
    marker = tmp_path / "pwned"
    target = finediving_copy / "train_split.pkl"
    target.write_bytes(pickle.dumps([("v", 1), _SystemCall(f"touch {marker}")]))
    proc = subprocess.run(
        [sys.executable, "-m", "hieroaction", "datasets", "summary", "finediving", str(finediving_copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert not marker.exists()
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "train_split.pkl" in err and "system" in err


def test_allowed_constructors_cannot_allocate_gigabytes():
    """A 29-byte pickle calling the allowed ``bytearray`` with 2**31-1 would allocate 2 GB: refused before."""
    import pickle

    import numpy as np

    from hieroaction.datasets.safe_pickle import PickleReadError, loads_pickle

    bomb = b"\x80\x02cbuiltins\nbytearray\nJ\xff\xff\xff\x7f\x85R."
    assert len(bomb) < 36
    with pytest.raises(PickleReadError, match="would allocate"):
        loads_pickle(bomb)

    class Reduce:
        def __init__(self, func, args):
            self.func, self.args = func, args

        def __reduce__(self):
            return self.func, self.args

    for func, args in [(set, (range(10**12),)), (frozenset, (range(10**9),)), (bytearray, (range(10**10),)),
                       (np.ndarray, ((10**6, 10**6),)), (np.ndarray, ((10**5,), np.dtype(("V", 10**6))))]:
        with pytest.raises(PickleReadError, match="would allocate"):
            loads_pickle(pickle.dumps(Reduce(func, args), protocol=2))
    small = {"a": np.arange(6).reshape(2, 3), "s": {1, 2}, "b": bytearray(b"xy")}
    for protocol in (2, 4, 5):
        loaded = loads_pickle(pickle.dumps(small, protocol=protocol))
        assert type(loaded["a"]) is np.ndarray and loaded["a"].tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("where", ["split", "annotation key"])
def test_a_key_nested_thousands_deep_is_a_one_line_refusal(finediving_copy, capsys, where):
    """Printing such a key in the error message raised RecursionError (a traceback)."""
    from hieroaction.cli import main

    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # only to write the file
    try:
        if where == "split":
            (finediving_copy / "train_split.pkl").write_bytes(pickle.dumps([deep], protocol=2))
        else:
            path = finediving_copy / "fine-grained_annotation_aqa.pkl"
            data = load_pickle(path)
            nested: tuple = ()
            for _ in range(5000):
                nested = (nested,)
            data[(nested, 1)] = next(iter(data.values()))
            path.write_bytes(pickle.dumps(data, protocol=2))
    finally:
        sys.setrecursionlimit(old)
    assert main(["datasets", "summary", "finediving", str(finediving_copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and ".pkl" in err[0]
