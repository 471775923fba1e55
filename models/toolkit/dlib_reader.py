"""Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` into a folded NHWC `Graph`.

dlib serialises a network as nested wrappers: the loss, then one version integer per wrapper
(outermost first), then the input layer, then one trailer per computational layer (innermost
first). Tag and skip wrappers carry no ids, so the topology (dlib's ResNet-29 "anet") is written
out here and checked against the sequence of layer names in the file; the reader must end exactly
at end of file. Any mismatch raises ``ValueError`` with the byte offset.

Scalars use dlib's portable encodings (see `_Bytes`); tensor payloads are raw float32 LE, NCHW.
Folding: the input mean subtraction and /256 go into the stem convolution (exact: it has no
padding), every ``affine_`` into the convolution before it. dlib's add_prev zero-pads the smaller
input at the high end of every axis (channels, rows, columns); that becomes a PAD op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .graph import Graph, exact_rowsum


class _Bytes:
    """Cursor over dlib's serialisation primitives."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"dlib model: {what} at byte {self.pos}")

    def int(self) -> int:
        """Control byte (low nibble = byte count, bit 7 = negative), then |value| little-endian."""
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        control = self.data[self.pos]
        size = control & 0x0F
        if control & 0x70 or not 1 <= size <= 8:
            raise self.fail(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        """Portable float: mantissa first, then exponent (dlib's header comment says the reverse)."""
        mantissa, exponent = self.int(), self.int()
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        return specials[exponent] if exponent in specials else math.ldexp(mantissa, exponent)

    def bool(self) -> bool:
        char = self.data[self.pos : self.pos + 1]
        if char not in (b"0", b"1"):
            raise self.fail(f"bad bool {char!r}")
        self.pos += 1
        return char == b"1"

    def string(self) -> str:
        size = self.int()
        text = self.data[self.pos : self.pos + size].decode("ascii")
        self.pos += size
        return text

    def shape(self, version: int) -> tuple[int, int, int, int]:
        if self.int() != version:
            raise self.fail("unexpected tensor version")
        return self.int(), self.int(), self.int(), self.int()

    def tensor(self) -> np.ndarray:
        shape = self.shape(2)
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail("tensor runs past end of file")
        array = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos = end
        return array


@dataclass
class Layer:
    """One computational layer's details, as stored."""

    name: str
    params: np.ndarray | None = None
    ints: list[int] = field(default_factory=list)
    shapes: list[tuple[int, int, int, int]] = field(default_factory=list)


def _details(r: _Bytes) -> Layer:
    layer = Layer(r.string())
    if layer.name == "con_4":
        layer.params = r.tensor()
        layer.ints = [r.int() for _ in range(7)]  # filters, nr, nc, stride_y, stride_x, pad_y, pad_x
        layer.shapes = [r.shape(1), r.shape(1)]
        _ = [r.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
    elif layer.name == "affine_":
        layer.params = r.tensor()
        layer.shapes = [r.shape(1), r.shape(1)]
        layer.ints = [r.int()]  # mode: 0 = per channel
    elif layer.name in ("max_pool_2", "avg_pool_2"):
        layer.ints = [r.int() for _ in range(6)]  # nr, nc, stride_y, stride_x, pad_y, pad_x
    elif layer.name == "fc_2":
        layer.ints = [r.int(), r.int()]  # outputs, inputs
        layer.params = r.tensor()
        layer.shapes = [r.shape(1), r.shape(1)]
        layer.ints.append(r.int())  # bias mode: 1 = no bias
        _ = [r.float() for _ in range(4)]
    elif layer.name not in ("relu_", "add_prev_"):
        raise r.fail(f"unsupported layer {layer.name!r}")
    return layer


def parse(data: bytes) -> tuple[tuple[float, float, float], list[Layer]]:
    """The input means (R, G, B) and the computational layers, input side first."""
    r = _Bytes(data)
    if r.int() != 1 or r.string() != "loss_metric_2":
        raise r.fail("not a dlib metric-loss network")
    _margin, _threshold = r.float(), r.float()
    versions: list[int] = []
    while not versions or versions[-1] != 3:
        versions.append(r.int())
        if versions[-1] not in (1, 2, 3):
            raise r.fail(f"unexpected wrapper version {versions[-1]}")
    if r.string() != "input_rgb_image_sized":
        raise r.fail("expected input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    if (r.int(), r.int()) != (150, 150):
        raise r.fail("input must be 150x150")
    layers: list[Layer] = []
    for i in range(sum(1 for v in versions if v != 1)):
        layers.append(_details(r))
        _ = [r.bool() for _ in range(3)]
        r.tensor(), r.tensor()  # x_grad, cached_output (empty)
        r.tensor()  # params_grad, or grad_final for the innermost wrapper
        if i == 0:
            r.int()  # sample expansion factor
    if r.pos != len(data):
        raise r.fail("trailing bytes after the last layer")
    return means, layers


class _Builder:
    def __init__(self, means: tuple[float, float, float], layers: list[Layer], description: str) -> None:
        self.layers = layers
        self.at = 0
        self.means = np.array(means, dtype=np.float64)
        self.g = Graph(description)

    def take(self, name: str) -> Layer:
        if self.at >= len(self.layers) or self.layers[self.at].name != name:
            got = self.layers[self.at].name if self.at < len(self.layers) else "end of layers"
            raise ValueError(f"dlib model: layer {self.at} is {got}, topology expects {name}")
        self.at += 1
        return self.layers[self.at - 1]

    def conv(self, x: int, relu: bool, name: str, normalise: bool = False) -> int:
        con, aff = self.take("con_4"), self.take("affine_")
        filters, kh, kw, stride, _, pad_y, pad_x = con.ints
        assert con.params is not None and aff.params is not None
        in_c = con.shapes[0][1]
        flat = con.params.reshape(-1).astype(np.float64)
        w = flat[: filters * in_c * kh * kw].reshape(filters, in_c, kh, kw)
        b = flat[filters * in_c * kh * kw :]
        if normalise:
            b = b - exact_rowsum(w * self.means[None, :, None, None]) / 256.0
            w = w / 256.0
        gb = aff.params.reshape(-1).astype(np.float64)
        gamma, beta = gb[:filters], gb[filters:]
        w, b = w * gamma[:, None, None, None], gamma * b + beta
        if relu:
            self.take("relu_")
        if pad_y == 0 and pad_x == 0:
            padding = "VALID"
        elif stride == 1 and pad_y == kh // 2 and pad_x == kw // 2:
            padding = "SAME"
        else:
            raise ValueError(f"dlib model: unsupported padding {pad_y},{pad_x} in {name}")
        return self.g.conv2d(x, w.transpose(0, 2, 3, 1), b, stride, padding, relu, name)

    def pool(self, x: int, layer_name: str, code: str, name: str) -> int:
        nr, nc, sy, sx, py, px = self.take(layer_name).ints
        if nr != nc or sy != sx or py or px:
            raise ValueError(f"dlib model: unsupported pooling in {name}")
        return self.g.pool(code, x, nr, sy, name)

    def grow(self, x: int, shape: tuple[int, ...], name: str) -> int:
        have = self.g.shape(x)
        if have == shape:
            return x
        return self.g.pad(x, tuple((0, s - h) for h, s in zip(have, shape, strict=True)), name)

    def residual(self, x: int, name: str) -> int:
        main = self.conv(x, True, f"{name}/conv1")
        main = self.conv(main, False, f"{name}/conv2")
        self.take("add_prev_")
        self.take("relu_")
        return self.g.add(main, x, True, f"{name}/add")

    def residual_down(self, x: int, name: str) -> int:
        main = self.conv(x, True, f"{name}/conv1")
        main = self.conv(main, False, f"{name}/conv2")
        skip = self.pool(x, "avg_pool_2", "AVERAGE_POOL_2D", f"{name}/pool")
        self.take("add_prev_")
        self.take("relu_")
        shape = tuple(max(a, b) for a, b in zip(self.g.shape(main), self.g.shape(skip), strict=True))
        main, skip = self.grow(main, shape, f"{name}/pad_main"), self.grow(skip, shape, f"{name}/pad_skip")
        return self.g.add(skip, main, True, f"{name}/add")

    def build(self) -> Graph:
        x = self.g.input("rgb_0_255", (1, 150, 150, 3))
        x = self.conv(x, True, "stem", normalise=True)
        x = self.pool(x, "max_pool_2", "MAX_POOL_2D", "stem/pool")
        for level, (width, plain) in enumerate(((32, 3), (64, 3), (128, 2), (256, 2), (256, 0))):
            if level > 0:
                x = self.residual_down(x, f"level{4 - level}/down")
            for i in range(plain):
                x = self.residual(x, f"level{4 - level}/res{i}")
            if self.g.shape(x)[-1] != width:
                raise ValueError(f"dlib model: level {4 - level} has {self.g.shape(x)[-1]} channels, expected {width}")
        nr, nc, *_ = self.take("avg_pool_2").ints
        if (nr, nc) != (0, 0):
            raise ValueError("dlib model: expected a global average pool")
        x = self.g.mean_hw(x, "global_mean")
        fc = self.take("fc_2")
        outputs, inputs, bias_mode = fc.ints
        assert fc.params is not None
        if bias_mode != 1:
            raise ValueError("dlib model: expected an fc layer without bias")
        weight = fc.params.reshape(-1)[: inputs * outputs].reshape(inputs, outputs).T.astype(np.float64)
        x = self.g.fully_connected(x, weight, None, "descriptor")
        if self.at != len(self.layers):
            raise ValueError(f"dlib model: {len(self.layers) - self.at} layers left over")
        self.g.output(x)
        return self.g


def read_dlib(path: Path, description: str) -> Graph:
    """Convert dlib's ResNet face descriptor at ``path``; raises ValueError on any mismatch."""
    means, layers = parse(path.read_bytes())
    return _Builder(means, layers, description).build()
