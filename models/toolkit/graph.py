"""A small NHWC float graph of the TFLite builtin ops our converters need.

The readers (dlib ``.dat``, ONNX) build one of these with all folding already done; the writer
(`tflite_writer`) turns it into a flatbuffer. Every method computes the output shape itself, so a
reader that wires layers wrongly fails here with a ``ValueError`` naming the layer rather than
producing a model that runs and gives wrong numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Options = dict[str, int | float | str | bool | tuple[int, ...]]


@dataclass
class Tensor:
    """A tensor: a constant when ``data`` is set (float32 or int32), otherwise an activation."""

    name: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None


@dataclass
class Op:
    """One builtin operator; ``-1`` in ``inputs`` means an optional input left out."""

    code: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Options = field(default_factory=dict)


def exact_rowsum(terms: np.ndarray) -> np.ndarray:
    """Sum each row (axis 0 kept) with ``math.fsum``: correctly rounded, so folded biases, and
    with them the model's sha256, do not depend on the CPU's SIMD summation order."""
    rows = terms.reshape(terms.shape[0], -1)
    return np.array([math.fsum(row.tolist()) for row in rows], dtype=np.float64)


def _out_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "SAME":
        return -(-size // stride)
    if size < kernel:
        raise ValueError(f"window {kernel} larger than input {size}")
    return (size - kernel) // stride + 1


class Graph:
    """Builder for a single-subgraph float32 model with one input and one output."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    def shape(self, index: int) -> tuple[int, ...]:
        """Shape of tensor ``index``."""
        return self.tensors[index].shape

    def input(self, name: str, shape: tuple[int, ...]) -> int:
        """Declare the model input."""
        self.tensors.append(Tensor(name, shape))
        self.inputs.append(len(self.tensors) - 1)
        return len(self.tensors) - 1

    def const(self, name: str, array: np.ndarray) -> int:
        """Add a constant; float data is stored as little-endian float32, ints as int32."""
        kind = np.float32 if array.dtype.kind == "f" else np.int32
        data = np.ascontiguousarray(array, dtype=np.dtype(kind).newbyteorder("<"))
        self.tensors.append(Tensor(name, tuple(int(d) for d in data.shape), data))
        return len(self.tensors) - 1

    def emit(self, code: str, inputs: tuple[int, ...], name: str, shape: tuple[int, ...], **options: object) -> int:
        """Append an op with one new output tensor; returns that tensor's index."""
        self.tensors.append(Tensor(name, shape))
        out = len(self.tensors) - 1
        self.ops.append(Op(code, inputs, (out,), dict(options)))  # type: ignore[arg-type]
        return out

    def output(self, index: int) -> None:
        """Mark ``index`` as the model output."""
        self.outputs.append(index)

    def conv2d(
        self, x: int, weight: np.ndarray, bias: np.ndarray, stride: int, padding: str, relu: bool, name: str
    ) -> int:
        """CONV_2D with OHWI ``weight``; ``padding`` is ``SAME`` or ``VALID``."""
        n, h, w, c = self.shape(x)
        o, kh, kw, i = weight.shape
        if i != c or bias.shape != (o,):
            raise ValueError(f"{name}: weight {weight.shape} / bias {bias.shape} do not fit input {self.shape(x)}")
        shape = (n, _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding), o)
        wi = self.const(f"{name}/weights", weight)
        bi = self.const(f"{name}/bias", bias)
        return self.emit(
            "CONV_2D", (x, wi, bi), name, shape, padding=padding, stride=stride, activation="RELU" if relu else "NONE"
        )

    def depthwise(self, x: int, weight: np.ndarray, bias: np.ndarray, stride: int, padding: str, name: str) -> int:
        """DEPTHWISE_CONV_2D (multiplier 1) with ``weight`` shaped [1, kh, kw, C]."""
        n, h, w, c = self.shape(x)
        _, kh, kw, o = weight.shape
        if o != c or bias.shape != (c,):
            raise ValueError(f"{name}: depthwise weight {weight.shape} does not fit input {self.shape(x)}")
        shape = (n, _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding), c)
        wi = self.const(f"{name}/weights", weight)
        bi = self.const(f"{name}/bias", bias)
        return self.emit(
            "DEPTHWISE_CONV_2D", (x, wi, bi), name, shape, padding=padding, stride=stride, activation="NONE"
        )

    def pad(self, x: int, pads: tuple[tuple[int, int], ...], name: str) -> int:
        """Zero PAD; ``pads`` gives (before, after) for each of the 4 axes."""
        shape = tuple(d + a + b for d, (a, b) in zip(self.shape(x), pads, strict=True))
        pi = self.const(f"{name}/paddings", np.array(pads, dtype=np.int32))
        return self.emit("PAD", (x, pi), name, shape)

    def prelu(self, x: int, alpha: np.ndarray, name: str) -> int:
        """PRELU with a per-channel slope (stored [1, 1, C])."""
        c = self.shape(x)[-1]
        ai = self.const(f"{name}/alpha", alpha.reshape(1, 1, c))
        return self.emit("PRELU", (x, ai), name, self.shape(x))

    def add(self, a: int, b: int, relu: bool, name: str) -> int:
        """Element-wise ADD of two same-shaped tensors, optionally with a fused RELU."""
        if self.shape(a) != self.shape(b):
            raise ValueError(f"{name}: cannot add {self.shape(a)} and {self.shape(b)}")
        return self.emit("ADD", (a, b), name, self.shape(a), activation="RELU" if relu else "NONE")

    def add_const(self, x: int, value: np.ndarray, name: str) -> int:
        """ADD of a broadcast constant (a scalar or one value per channel)."""
        ci = self.const(f"{name}/value", value)
        return self.emit("ADD", (x, ci), name, self.shape(x), activation="NONE")

    def pool(self, code: str, x: int, kernel: int, stride: int, name: str) -> int:
        """MAX_POOL_2D or AVERAGE_POOL_2D with VALID padding (no partial windows)."""
        n, h, w, c = self.shape(x)
        shape = (n, _out_size(h, kernel, stride, "VALID"), _out_size(w, kernel, stride, "VALID"), c)
        return self.emit(code, (x,), name, shape, padding="VALID", stride=stride, kernel=kernel)

    def mean_hw(self, x: int, name: str) -> int:
        """MEAN over height and width: [N, H, W, C] -> [N, C]."""
        n, _, _, c = self.shape(x)
        axes = self.const(f"{name}/axes", np.array([1, 2], dtype=np.int32))
        return self.emit("MEAN", (x, axes), name, (n, c), keep_dims=False)

    def reshape(self, x: int, shape: tuple[int, ...], name: str) -> int:
        """RESHAPE to ``shape`` (same element count)."""
        if int(np.prod(shape)) != int(np.prod(self.shape(x))):
            raise ValueError(f"{name}: cannot reshape {self.shape(x)} to {shape}")
        si = self.const(f"{name}/shape", np.array(shape, dtype=np.int32))
        return self.emit("RESHAPE", (x, si), name, shape, new_shape=shape)

    def fully_connected(self, x: int, weight: np.ndarray, bias: np.ndarray | None, name: str) -> int:
        """FULLY_CONNECTED with ``weight`` shaped [out, in]; ``bias`` may be None."""
        n, k = self.shape(x)
        out, inner = weight.shape
        if inner != k:
            raise ValueError(f"{name}: weight {weight.shape} does not fit input {self.shape(x)}")
        wi = self.const(f"{name}/weights", weight)
        bi = -1 if bias is None else self.const(f"{name}/bias", bias)
        return self.emit("FULLY_CONNECTED", (x, wi, bi), name, (n, out), activation="NONE")
