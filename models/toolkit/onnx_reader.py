"""Read an ONNX CNN of the MobileFaceNet kind into a folded NHWC `Graph`.

Supported subset (what OpenCV Zoo's SFace uses): Conv (plain or depthwise), BatchNormalization,
PRelu, scalar Sub/Mul on the input, Dropout (identity at inference), Flatten and Gemm. Anything
else raises ``ValueError`` naming the node, so an unexpected model cannot be half-converted.

Folding, all exact in float64 before the final float32 cast:
- BatchNormalization after Conv or Gemm goes into that layer's weights and bias.
- A scalar Mul is carried forward and folded into the next Conv's weights (zero padding is
  unaffected by a scale). A scalar Sub stays an ADD op, because folding an offset into a padded
  convolution would be wrong at the borders.
- A BatchNormalization that is followed only by Dropout/Flatten/Gemm (SFace's ``bn1``) is carried
  forward as a per-channel affine and folded into the Gemm.
- Flatten of NCHW ``[C, H, W]`` becomes a RESHAPE of NHWC ``[H, W, C]``; the Gemm's columns are
  permuted to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .graph import Graph, exact_rowsum


@dataclass
class _Value:
    index: int  # tensor in the graph (NHWC)
    scale: float = 1.0  # pending scalar multiplier
    affine: tuple[np.ndarray, np.ndarray] | None = None  # pending per-channel (a, b)
    flat_chw: tuple[int, int, int] | None = None  # set after Flatten


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _bn(node: Any, consts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization as y = a*x + b, per channel, float64."""
    gamma, beta, mean, var = (consts[n].astype(np.float64) for n in node.input[1:5])
    a = gamma / np.sqrt(var + float(_attrs(node).get("epsilon", 1e-5)))
    return a, beta - a * mean


class _Reader:
    def __init__(self, model: Any, description: str) -> None:
        from onnx import numpy_helper

        self.nodes = list(model.graph.node)
        self.consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.graph = Graph(description)
        self.values: dict[str, _Value] = {}
        self.users: dict[str, list[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                self.users.setdefault(name, []).append(node)
        self.skip: set[str] = set()

    def only_user(self, name: str, op_type: str) -> Any | None:
        users = self.users.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def scalar(self, node: Any) -> float:
        value = self.consts.get(node.input[1])
        if value is None or value.size != 1:
            raise ValueError(f"{node.name or node.op_type}: only scalar constants are supported")
        return float(value.reshape(-1)[0])

    def conv(self, node: Any) -> None:
        src = self.values[node.input[0]]
        if src.affine is not None or src.flat_chw is not None:
            raise ValueError(f"{node.name}: unsupported input to Conv")
        at = _attrs(node)
        w = self.consts[node.input[1]].astype(np.float64) * src.scale
        out_c = w.shape[0]
        b = self.consts[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros(out_c)
        out_name = node.output[0]
        bn = self.only_user(out_name, "BatchNormalization")
        if bn is not None:
            a, shift = _bn(bn, self.consts)
            w, b = w * a[:, None, None, None], a * b + shift
            self.skip.add(bn.output[0])
            out_name = bn.output[0]
        if at.get("dilations", [1, 1]) != [1, 1]:
            raise ValueError(f"{node.name}: dilated convolution is not supported")
        stride = int(at.get("strides", [1, 1])[0])
        kernel = int(w.shape[2])
        top, left, bottom, right = (int(p) for p in at.get("pads", [0, 0, 0, 0]))
        x = src.index
        if stride == 1 and top == bottom == left == right == kernel // 2 and kernel % 2 == 1:
            padding = "SAME"
        else:
            if top or left or bottom or right:
                x = self.graph.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), f"{node.name}/pad")
            padding = "VALID"
        group = int(at.get("group", 1))
        in_c = self.graph.shape(src.index)[-1]
        if group == 1:
            out = self.graph.conv2d(x, w.transpose(0, 2, 3, 1), b, stride, padding, False, node.name)
        elif group == in_c == out_c and w.shape[1] == 1:
            out = self.graph.depthwise(x, w.transpose(1, 2, 3, 0), b, stride, padding, node.name)
        else:
            raise ValueError(f"{node.name}: grouped convolution other than depthwise is not supported")
        self.values[out_name] = _Value(out)

    def gemm(self, node: Any) -> None:
        src = self.values[node.input[0]]
        at = _attrs(node)
        if at.get("transA", 0) or not at.get("transB", 0) or at.get("alpha", 1.0) != 1.0:
            raise ValueError(f"{node.name}: only Gemm with transB=1, alpha=1 is supported")
        w = self.consts[node.input[1]].astype(np.float64)
        b = self.consts[node.input[2]].astype(np.float64) * float(at.get("beta", 1.0))
        x = src.index
        if src.flat_chw is not None:
            c, h, wd = src.flat_chw
            w = w.reshape(-1, c, h, wd)
            if src.affine is not None:
                a, shift = src.affine
                b = b + exact_rowsum(w * shift[None, :, None, None])
                w = w * a[None, :, None, None]
            w = w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        elif src.affine is not None:
            raise ValueError(f"{node.name}: per-channel affine before Gemm needs a Flatten")
        w, b = w * src.scale, b
        out_name = node.output[0]
        bn = self.only_user(out_name, "BatchNormalization")
        if bn is not None:
            a, shift = _bn(bn, self.consts)
            w, b = w * a[:, None], a * b + shift
            self.skip.add(bn.output[0])
            out_name = bn.output[0]
        self.values[out_name] = _Value(self.graph.fully_connected(x, w, b, node.name))

    def node(self, node: Any) -> None:
        op = node.op_type
        if not node.name:
            node.name = node.output[0]
        if op == "Conv":
            self.conv(node)
        elif op == "Gemm":
            self.gemm(node)
        elif op == "PRelu":
            src = self.values[node.input[0]]
            slope = self.consts[node.input[1]].astype(np.float64).reshape(-1)
            self.values[node.output[0]] = _Value(self.graph.prelu(src.index, slope, node.name))
        elif op == "Sub":
            src = self.values[node.input[0]]
            offset = np.array([-self.scalar(node)], dtype=np.float64)
            self.values[node.output[0]] = _Value(self.graph.add_const(src.index, offset, node.name), src.scale)
        elif op == "Mul":
            src = self.values[node.input[0]]
            self.values[node.output[0]] = _Value(src.index, src.scale * self.scalar(node), src.affine, src.flat_chw)
        elif op == "BatchNormalization":
            src = self.values[node.input[0]]
            if src.affine is not None or src.scale != 1.0:
                raise ValueError(f"{node.name}: stacked affine layers are not supported")
            self.values[node.output[0]] = _Value(src.index, 1.0, _bn(node, self.consts), src.flat_chw)
        elif op in ("Dropout", "Identity"):
            self.values[node.output[0]] = self.values[node.input[0]]
        elif op == "Flatten":
            src = self.values[node.input[0]]
            n, h, w, c = self.graph.shape(src.index)
            flat = self.graph.reshape(src.index, (n, h * w * c), node.name)
            self.values[node.output[0]] = _Value(flat, src.scale, src.affine, (c, h, w))
        else:
            raise ValueError(f"{node.name or op}: ONNX op {op} is not supported")

    def run(self, model: Any) -> Graph:
        graph_input = model.graph.input[0]
        dims = [d.dim_value for d in graph_input.type.tensor_type.shape.dim]
        if len(dims) != 4 or dims[1] != 3:
            raise ValueError(f"input {graph_input.name} must be [N, 3, H, W], got {dims}")
        index = self.graph.input(graph_input.name, (1, dims[2], dims[3], 3))
        self.values[graph_input.name] = _Value(index)
        for node in self.nodes:
            if node.output[0] not in self.skip:
                self.node(node)
        out = self.values[model.graph.output[0].name]
        if out.affine is not None or out.scale != 1.0:
            raise ValueError("the model ends in an affine layer that has nothing to fold into")
        self.graph.output(out.index)
        return self.graph


def read_onnx(path: Path, description: str) -> Graph:
    """Convert the ONNX model at ``path``; raises ValueError for unsupported graphs."""
    import onnx

    model = onnx.load(str(path))
    return _Reader(model, description).run(model)
