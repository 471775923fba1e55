"""The TFLite runtime adapter: the only module that imports LiteRT (or tflite_runtime).

LiteRT (``ai-edge-litert``) is the maintained successor of ``tflite-runtime``, which is frozen at
2.14 and fails with NumPy 2; the old package is used only where it is the one installed. Both are
imported inside :func:`load`, so importing the firmware never loads a runtime. XNNPACK (the CPU
delegate) is on by default in both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of a model input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as err:
            raise ModelError("no TFLite runtime: install ai-edge-litert (./setup.sh does)") from err
    return Interpreter


class TfliteModel:
    """A loaded ``.tflite`` model with typed, shape-checked calls. Use :func:`load`."""

    def __init__(self, path: Path, interpreter: Any) -> None:
        self.path = path
        self._interpreter = interpreter
        self._inputs = interpreter.get_input_details()
        self._outputs = interpreter.get_output_details()
        self.busy_s = 0.0  # time spent in invoke(), for benchmarks
        self.runs = 0

    @property
    def inputs(self) -> list[TensorSpec]:
        """The model's inputs."""
        return [
            TensorSpec(d["name"], tuple(int(v) for v in d["shape"]), str(d["dtype"].__name__)) for d in self._inputs
        ]

    @property
    def outputs(self) -> list[TensorSpec]:
        """The model's outputs."""
        return [
            TensorSpec(d["name"], tuple(int(v) for v in d["shape"]), str(d["dtype"].__name__)) for d in self._outputs
        ]

    def close(self) -> None:
        """Drop the interpreter and with it the model's memory; :meth:`run` then raises
        ModelError. Used to free the old models before an update's are loaded."""
        self._interpreter = None

    def run(self, *arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
        """Run once; returns copies of the outputs in the model's output order.

        Raises:
            ModelError: wrong number, shape or dtype of inputs.
        """
        if self._interpreter is None:
            raise ModelError(f"{self.path.name}: the model was closed")
        if len(arrays) != len(self._inputs):
            raise ModelError(f"{self.path.name}: {len(self._inputs)} inputs expected, got {len(arrays)}")
        for detail, array in zip(self._inputs, arrays, strict=True):
            if tuple(array.shape) != tuple(detail["shape"]) or array.dtype != detail["dtype"]:
                raise ModelError(
                    f"{self.path.name}: input {detail['name']} must be {tuple(detail['shape'])} "
                    f"{detail['dtype'].__name__}, got {tuple(array.shape)} {array.dtype}"
                )
            self._interpreter.set_tensor(detail["index"], array)
        started = time.perf_counter()
        self._interpreter.invoke()
        self.busy_s += time.perf_counter() - started
        self.runs += 1
        return [np.array(self._interpreter.get_tensor(d["index"])) for d in self._outputs]


def load(path: Path, threads: int = 2) -> TfliteModel:
    """Load a model file.

    Args:
        threads: CPU threads for the interpreter (a Pi 4 has 4 cores; leave one for the loop).

    Raises:
        ModelError: missing or unreadable file, not a TFLite model, or no runtime installed.
    """
    if not path.is_file():
        raise ModelError(f"model file {path} is missing: run ./setup.sh (it builds models/build)")
    interpreter_class = _interpreter_class()
    _fix_mmap_threshold()
    try:
        with _quiet_native_stderr():
            interpreter = interpreter_class(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ModelError(f"{path} is not a usable TFLite model: {err}") from err
    _release_file_pages(path)
    return TfliteModel(path, interpreter)


def _release_file_pages(path: Path) -> None:
    """Drop the model file's mapped pages from this process's resident set.

    The runtime memory-maps the file and XNNPACK copies the weights into its own packed buffers
    at ``allocate_tensors``; the mapped pages are not read again, yet count in RSS (about the
    file's size: 38 MB for SFace). ``MADV_DONTNEED`` on the read-only shared file mapping only
    unmaps them: any later access faults them back in from the page cache, so it is safe even
    for ops XNNPACK does not take. Linux only; elsewhere, or on any error, nothing happens.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    target = str(path.resolve())
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        with open("/proc/self/maps") as maps:
            ranges = [line.split()[0] for line in maps if line.rstrip("\n").endswith(" " + target)]
        for span in ranges:
            start, end = (int(v, 16) for v in span.split("-"))
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 4)  # MADV_DONTNEED
    except OSError as err:
        log.debug("could not release pages of %s: %s", path, err)


# Allocations from this size up get their own mapping, returned to the system when freed. Below
# every model's large weight buffer (SFace's packed layers are 4-25 MiB), above a 1280x720 BGR
# frame (2.6 MiB), so frames keep reusing heap memory.
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def _fix_mmap_threshold() -> None:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES`.

    glibc raises the threshold each time a mapped block is freed (up to 32 MiB), so after a
    model swap the new models' weights and their packing buffers come from the heap, where
    freed memory stays in the process: measured 21 MiB more anonymous memory while an update's
    models load than at start (door peak through an install 196.4 MiB, 191.1 with the fixed
    threshold; Linux page cache in 4 KiB pages). Setting it once turns the adjustment off.
    glibc only; elsewhere, or on any error, nothing happens.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        if not ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
            log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    except (OSError, AttributeError) as err:
        log.debug("mallopt unavailable: %s", err)


def release_freed_memory() -> None:
    """Hand heap memory freed by dropped interpreters back to the system (glibc ``malloc_trim``).

    XNNPACK's packed weights are many mid-sized allocations; after a model swap glibc keeps the
    freed ones in its arenas, so without this the door's RSS stays at old + new models
    (measured: 225 MiB after an update instead of about 170). glibc only; elsewhere, or on any
    error, nothing happens.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError) as err:
        log.debug("malloc_trim unavailable: %s", err)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the runtime's C++ banner ("INFO: Created TensorFlow Lite XNNPACK delegate")
    that would otherwise land in every command's stderr; Python errors still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
