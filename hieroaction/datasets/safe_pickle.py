"""Load annotation pickles without letting them run code.

Why: a pickle is a program. ``pickle.load`` will call any importable callable the file names (``os.system``,
``subprocess.Popen`` ...). The public AQA annotations only need plain containers, scalars and numpy's own
array/scalar/dtype reconstruction, so we admit exactly those globals and refuse everything else *before* it is
looked up, let alone called.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core import multiarray as _np_multiarray

from hieroaction.datasets.records import DatasetReadError


class UnsafePickleError(DatasetReadError, pickle.UnpicklingError):
    """The file names a global outside the allow-list; nothing from it was executed."""

    def __init__(self, path: str, module: str, name: str):
        self.path = path
        self.module = module
        self.name = name
        super().__init__(
            f"{path}: refused to load pickle: it references {module}.{name}, which is not an allowed "
            "container/scalar/numpy global (the file was not executed)"
        )


class PickleReadError(DatasetReadError):
    """The file is missing, unreadable or not a valid pickle (as opposed to an unsafe one)."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python-2-compatible numpy pickles use it: only the byte-preserving codecs."""
    if encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


# What an allowed constructor may allocate: a 36-byte pickle can otherwise call ``bytearray(2**31)`` or
# ``set(range(10**12))``. The public annotation files are a few MB; arrays in them are far below this.
MAX_ALLOCATION_BYTES = 256 * 1024 * 1024


def _check_size(what: str, count: int, item_bytes: int = 1) -> None:
    if int(count) * max(1, int(item_bytes)) > MAX_ALLOCATION_BYTES:
        raise pickle.UnpicklingError(
            f"{what} of {int(count):,} items would allocate more than {MAX_ALLOCATION_BYTES:,} bytes"
        )


def _sized(what: str, arg: Any, item_bytes: int) -> None:
    """Bound an argument that makes the constructor allocate: an int size or a lazy ``range``."""
    if isinstance(arg, bool):
        return
    if isinstance(arg, int):
        _check_size(what, arg, item_bytes)
    elif isinstance(arg, range):
        _check_size(what, len(arg), item_bytes)


def _bytearray(*args):
    if args:
        _sized("bytearray", args[0], 1)
    return bytearray(*args)


def _set(*args):
    if args:
        _sized("set", args[0], 64)
    return set(*args)


def _frozenset(*args):
    if args:
        _sized("frozenset", args[0], 64)
    return frozenset(*args)


def _shape_items(shape: Any) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    total = 1
    for dim in dims:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise pickle.UnpicklingError(f"array shape {shape!r} is not a tuple of non-negative integers")
        total *= dim
        _check_size("array", total)
    return total


class _CheckedNdarray(np.ndarray):
    """What the global ``numpy.ndarray`` resolves to: calling it (REDUCE/NEWOBJ) is size-checked and returns a
    plain ``np.ndarray``; passed to ``_reconstruct`` as the subtype it is swapped back for ``np.ndarray``."""

    def __new__(cls, shape=(), dtype=float, *args, **kwargs):
        _check_size("array", _shape_items(shape), np.dtype(dtype).itemsize)
        return np.ndarray.__new__(np.ndarray, shape, dtype, *args, **kwargs)


def _ndarray_reconstruct(subtype, shape, dtype, *args):
    if subtype is _CheckedNdarray:
        subtype = np.ndarray
    itemsize = 1 if isinstance(dtype, bytes | str) else np.dtype(dtype).itemsize
    _check_size("array", _shape_items(shape), itemsize)
    return _np_multiarray._reconstruct(subtype, shape, dtype, *args)


# (module, name) -> the object to hand the unpickler. numpy <2 wrote ``numpy.core.*``; numpy 2 writes
# ``numpy._core.*``: both map to numpy 2's real objects (going through ``numpy.core`` would warn about deprecation).
_NUMPY_GLOBALS: dict[tuple[str, str], Any] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _NUMPY_GLOBALS[(_module, "_reconstruct")] = _ndarray_reconstruct
    _NUMPY_GLOBALS[(_module, "scalar")] = _np_multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _NUMPY_GLOBALS[(_module, "_frombuffer")] = np._core.numeric._frombuffer  # protocol-5 out-of-band arrays
_NUMPY_GLOBALS[("numpy", "ndarray")] = _CheckedNdarray
_NUMPY_GLOBALS[("numpy", "dtype")] = np.dtype

_BUILTIN_GLOBALS: dict[tuple[str, str], Any] = {
    ("builtins", name): obj
    for name, obj in {
        "set": _set,
        "frozenset": _frozenset,
        "complex": complex,
        "bytearray": _bytearray,
        "slice": slice,
        "range": range,
    }.items()
}
_BUILTIN_GLOBALS[("collections", "OrderedDict")] = dict
_BUILTIN_GLOBALS[("_codecs", "encode")] = _latin1_encode

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {**_NUMPY_GLOBALS, **_BUILTIN_GLOBALS}


def _numpy_dtype_class(module: str, name: str):
    """numpy 2 pickles dtypes of some kinds as ``numpy.dtypes.Float64DType`` etc.: admit those classes only."""
    if module == "numpy.dtypes":
        import numpy.dtypes as np_dtypes

        obj = getattr(np_dtypes, name, None)
        if isinstance(obj, type) and issubclass(obj, np.dtype):
            return obj
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` consults the allow-list and never imports anything."""

    def __init__(self, file, *, path: str = "<bytes>"):
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        named = (module, name)
        # Python-2 era names (``__builtin__.set`` in protocol <3 files), mapped the way pickle itself maps them
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            obj = _numpy_dtype_class(module, name)
        if obj is None:
            raise UnsafePickleError(self._path, *named)
        return obj

    def persistent_load(self, pid):
        raise UnsafePickleError(self._path, "<persistent id>", repr(pid)[:80])


def loads_pickle(data: bytes, *, path: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list (see :func:`load_pickle`)."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), path=path).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated/garbled files raise a zoo of types
        raise PickleReadError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc


def load_pickle(path: str | Path) -> Any:
    """Load an annotation pickle safely.

    Raises :class:`UnsafePickleError` if the file references any global outside the allow-list (the offending
    callable is never imported or called) and :class:`PickleReadError` if it is missing or corrupt.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PickleReadError(f"{path}: cannot read annotation file ({exc.strerror or exc})") from exc
    return loads_pickle(data, path=str(path))
