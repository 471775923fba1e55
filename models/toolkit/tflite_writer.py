"""Serialise a `Graph` to a TFLite flatbuffer with the ``flatbuffers`` runtime and ``tflite`` schema.

No TensorFlow: the schema package only provides the generated table builders. The output is a
pure function of the graph (no timestamps, no dict-order effects), so the same inputs give the
same sha256 on every run; the recipes pin that hash.

``float16=True`` stores each weight (every float constant of rank >= 2) as FLOAT16 followed by a
DEQUANTIZE op to float32, the layout LiteRT's XNNPACK delegate recognises. That halves the file;
XNNPACK unpacks to float32 at load, so RAM and speed are about those of the float32 model.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np

from .graph import Graph, Op, Tensor

_ACTIVATIONS = {"NONE": 0, "RELU": 1}
_PADDING = {"SAME": 0, "VALID": 1}
# op code -> (BuiltinOperator value, BuiltinOptions union tag, options table module or None)
_OPS: dict[str, tuple[int, int, str | None]] = {
    "ADD": (0, 11, "AddOptions"),
    "AVERAGE_POOL_2D": (1, 5, "Pool2DOptions"),
    "CONV_2D": (3, 1, "Conv2DOptions"),
    "DEPTHWISE_CONV_2D": (4, 2, "DepthwiseConv2DOptions"),
    "DEQUANTIZE": (6, 38, "DequantizeOptions"),
    "FULLY_CONNECTED": (9, 8, "FullyConnectedOptions"),
    "MAX_POOL_2D": (17, 5, "Pool2DOptions"),
    "RESHAPE": (22, 17, "ReshapeOptions"),
    "PAD": (34, 22, "PadOptions"),
    "MEAN": (40, 27, "ReducerOptions"),
    "PRELU": (54, 0, None),
}
_VERSIONS = {"DEQUANTIZE": 3}
_FLOAT32, _FLOAT16, _INT32 = 0, 1, 2


def _schema(name: str) -> ModuleType:
    # The tflite package re-exports classes under its module names; import the modules themselves.
    return importlib.import_module(f"tflite.{name}")


def _with_float16_weights(graph: Graph) -> tuple[list[Tensor], list[Op]]:
    """Tensors and ops with each float weight replaced by a FLOAT16 constant + DEQUANTIZE."""
    tensors = list(graph.tensors)
    prologue: list[Op] = []
    for index, tensor in enumerate(graph.tensors):
        if tensor.data is None or tensor.data.dtype != np.float32 or tensor.data.ndim < 2:
            continue
        half = tensor.data.astype("<f2")
        tensors.append(Tensor(f"{tensor.name}/float16", tensor.shape, half))
        tensors[index] = Tensor(tensor.name, tensor.shape)
        prologue.append(Op("DEQUANTIZE", (len(tensors) - 1,), (index,), {}))
    return tensors, prologue + graph.ops


class _Writer:
    def __init__(self, tensors: list[Tensor], ops: list[Op]) -> None:
        size = sum(t.data.nbytes for t in tensors if t.data is not None)
        self.b = flatbuffers.Builder(size + (1 << 20))
        self.tensors = tensors
        self.ops = ops

    def ints(self, values: tuple[int, ...] | list[int]) -> int:
        return int(self.b.CreateNumpyVector(np.asarray(values, dtype=np.int32)))

    def table_vector(self, start: Any, offsets: list[int]) -> int:
        start(self.b, len(offsets))
        for off in reversed(offsets):
            self.b.PrependUOffsetTRelative(off)
        return int(self.b.EndVector())

    def raw_bytes(self, data: bytes) -> int:
        b = self.b
        b.StartVector(1, len(data), 16)
        b.head = b.head - len(data)
        b.Bytes[b.head : b.head + len(data)] = data
        return int(b.EndVector())

    def buffers(self) -> tuple[int, dict[int, int]]:
        mod = _schema("Buffer")
        offsets: list[int] = []
        mod.BufferStart(self.b)
        offsets.append(mod.BufferEnd(self.b))  # buffer 0: the empty sentinel
        index_of: dict[int, int] = {}
        for i, tensor in enumerate(self.tensors):
            if tensor.data is None:
                continue
            data = self.raw_bytes(tensor.data.tobytes(order="C"))
            mod.BufferStart(self.b)
            mod.BufferAddData(self.b, data)
            offsets.append(mod.BufferEnd(self.b))
            index_of[i] = len(offsets) - 1
        return self.table_vector(_schema("Model").ModelStartBuffersVector, offsets), index_of

    def tensor_table(self, buffer_of: dict[int, int]) -> int:
        mod = _schema("Tensor")
        offsets: list[int] = []
        for i, tensor in enumerate(self.tensors):
            name = self.b.CreateString(tensor.name)
            shape = self.ints(tensor.shape)
            if tensor.data is None or tensor.data.dtype.kind == "f":
                kind = _FLOAT16 if tensor.data is not None and tensor.data.itemsize == 2 else _FLOAT32
            else:
                kind = _INT32
            mod.TensorStart(self.b)
            mod.TensorAddShape(self.b, shape)
            mod.TensorAddType(self.b, kind)
            mod.TensorAddBuffer(self.b, buffer_of.get(i, 0))
            mod.TensorAddName(self.b, name)
            offsets.append(mod.TensorEnd(self.b))
        return self.table_vector(_schema("SubGraph").SubGraphStartTensorsVector, offsets)

    def options(self, op: Op) -> int | None:
        _, _, table = _OPS[op.code]
        if table is None:
            return None
        mod = _schema(table)
        b, o = self.b, op.options
        new_shape = self.ints(tuple(o["new_shape"])) if op.code == "RESHAPE" else 0  # type: ignore[arg-type]
        getattr(mod, f"{table}Start")(b)
        if op.code in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
            getattr(mod, f"{table}AddPadding")(b, _PADDING[str(o["padding"])])
            getattr(mod, f"{table}AddStrideW")(b, int(o["stride"]))  # type: ignore[call-overload]
            getattr(mod, f"{table}AddStrideH")(b, int(o["stride"]))  # type: ignore[call-overload]
        if op.code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            getattr(mod, f"{table}AddDilationWFactor")(b, 1)
            getattr(mod, f"{table}AddDilationHFactor")(b, 1)
        if op.code == "DEPTHWISE_CONV_2D":
            mod.DepthwiseConv2DOptionsAddDepthMultiplier(b, 1)
        if op.code in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            mod.Pool2DOptionsAddFilterWidth(b, int(o["kernel"]))  # type: ignore[call-overload]
            mod.Pool2DOptionsAddFilterHeight(b, int(o["kernel"]))  # type: ignore[call-overload]
        if "activation" in o:
            getattr(mod, f"{table}AddFusedActivationFunction")(b, _ACTIVATIONS[str(o["activation"])])
        if op.code == "MEAN":
            mod.ReducerOptionsAddKeepDims(b, bool(o["keep_dims"]))
        if op.code == "RESHAPE":
            mod.ReshapeOptionsAddNewShape(b, new_shape)
        return int(getattr(mod, f"{table}End")(b))

    def operators(self, opcode_index: dict[str, int]) -> int:
        mod = _schema("Operator")
        offsets: list[int] = []
        for op in self.ops:
            inputs, outputs = self.ints(op.inputs), self.ints(op.outputs)
            options = self.options(op)
            mod.OperatorStart(self.b)
            mod.OperatorAddOpcodeIndex(self.b, opcode_index[op.code])
            mod.OperatorAddInputs(self.b, inputs)
            mod.OperatorAddOutputs(self.b, outputs)
            if options is not None:
                mod.OperatorAddBuiltinOptionsType(self.b, _OPS[op.code][1])
                mod.OperatorAddBuiltinOptions(self.b, options)
            offsets.append(mod.OperatorEnd(self.b))
        return self.table_vector(_schema("SubGraph").SubGraphStartOperatorsVector, offsets)

    def opcodes(self) -> tuple[int, dict[str, int]]:
        mod = _schema("OperatorCode")
        order: list[str] = []
        for op in self.ops:
            if op.code not in order:
                order.append(op.code)
        offsets: list[int] = []
        for code in order:
            builtin = _OPS[code][0]
            mod.OperatorCodeStart(self.b)
            mod.OperatorCodeAddDeprecatedBuiltinCode(self.b, min(builtin, 127))
            mod.OperatorCodeAddBuiltinCode(self.b, builtin)
            mod.OperatorCodeAddVersion(self.b, _VERSIONS.get(code, 1))
            offsets.append(mod.OperatorCodeEnd(self.b))
        vector = self.table_vector(_schema("Model").ModelStartOperatorCodesVector, offsets)
        return vector, {code: i for i, code in enumerate(order)}


def serialise(graph: Graph, float16: bool = False) -> bytes:
    """The ``.tflite`` bytes of ``graph``; float32 weights, or float16 weights + DEQUANTIZE."""
    if not graph.inputs or not graph.outputs:
        raise ValueError("graph has no input or no output")
    tensors, ops = _with_float16_weights(graph) if float16 else (list(graph.tensors), list(graph.ops))
    w = _Writer(tensors, ops)
    buffers, buffer_of = w.buffers()
    tensor_vec = w.tensor_table(buffer_of)
    opcodes, opcode_index = w.opcodes()
    operators = w.operators(opcode_index)
    inputs, outputs = w.ints(graph.inputs), w.ints(graph.outputs)
    sub = _schema("SubGraph")
    name = w.b.CreateString("main")
    sub.SubGraphStart(w.b)
    sub.SubGraphAddTensors(w.b, tensor_vec)
    sub.SubGraphAddInputs(w.b, inputs)
    sub.SubGraphAddOutputs(w.b, outputs)
    sub.SubGraphAddOperators(w.b, operators)
    sub.SubGraphAddName(w.b, name)
    subgraph = sub.SubGraphEnd(w.b)
    model = _schema("Model")
    subgraphs = w.table_vector(model.ModelStartSubgraphsVector, [subgraph])
    description = w.b.CreateString(graph.description)
    model.ModelStart(w.b)
    model.ModelAddVersion(w.b, 3)
    model.ModelAddOperatorCodes(w.b, opcodes)
    model.ModelAddSubgraphs(w.b, subgraphs)
    model.ModelAddDescription(w.b, description)
    model.ModelAddBuffers(w.b, buffers)
    w.b.Finish(model.ModelEnd(w.b), file_identifier=b"TFL3")
    return bytes(w.b.Output())
