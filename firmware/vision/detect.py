"""Face detection with BlazeFace on the TFLite runtime."""

from __future__ import annotations

from pathlib import Path

from firmware.domain import Detection, Image
from firmware.errors import ModelError
from firmware.imaging.image import letterbox_tensor
from firmware.vision import blazeface, runtime
from firmware.vision.blazeface import Letterbox

VARIANTS = {"short_range": blazeface.SHORT_RANGE, "full_range": blazeface.FULL_RANGE}


class FaceDetector:
    """Finds faces and their six keypoints in BGR images.

    Short range suits a door (faces within about 2 m, filling a good part of the frame); full
    range finds small faces further away but misses close-ups that fill the frame.
    """

    def __init__(self, model: runtime.TfliteModel, variant: blazeface.Variant, score_threshold: float | None = None):
        expected = (1, variant.input_size, variant.input_size, 3)
        if not model.inputs or model.inputs[0].shape != expected:
            raise ModelError(f"{model.path.name} is not a BlazeFace {variant.name} model (input {model.inputs})")
        self.variant = variant
        self.score_threshold = score_threshold
        self._model = model
        self._anchors = blazeface.anchors(variant)
        shapes = [o.shape for o in model.outputs]
        try:
            self._reg_index = next(i for i, s in enumerate(shapes) if s[-1] == 16)
            self._score_index = next(i for i, s in enumerate(shapes) if s[-1] == 1)
        except StopIteration as err:
            raise ModelError(f"{model.path.name}: unexpected outputs {shapes}") from err

    @classmethod
    def load(cls, models_dir: Path, variant: str = "short_range", threads: int = 2) -> FaceDetector:
        """Load ``blazeface_<variant>.tflite`` from ``models_dir``.

        Raises:
            ModelError: unknown variant, missing or wrong model file.
        """
        if variant not in VARIANTS:
            raise ModelError(f"unknown detector variant {variant!r} (choose {', '.join(VARIANTS)})")
        return cls(runtime.load(models_dir / f"blazeface_{variant}.tflite", threads), VARIANTS[variant])

    def detect(self, image: Image) -> list[Detection]:
        """Faces in ``image``, best first, in the image's pixel coordinates."""
        size = self.variant.input_size
        box = Letterbox(image.shape[1], image.shape[0], size)
        tensor = letterbox_tensor(image, size, box.scale, box.pad)
        outputs = self._model.run(tensor)
        return blazeface.detections(
            outputs[self._reg_index], outputs[self._score_index], self.variant, self._anchors, box, self.score_threshold
        )

    @property
    def model(self) -> runtime.TfliteModel:
        """The underlying TFLite model (for its inference counters)."""
        return self._model
