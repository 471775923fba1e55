"""``occur bench loop``: the whole appliance loop on a replay, as fast as it can go.

Reports end-to-end frames/s, per-stage times, the time spent inside the TFLite models, and
the ratio of the loop's time per frame to that pure inference time (how much the loop adds
around the models), plus start-to-first-decision and peak RSS of the process.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from firmware import service
from firmware.config import Config, LoopConfig


@dataclass(frozen=True)
class LoopBench:
    """Figures of one run."""

    frames: int
    decisions: int
    loop_s: float
    camera_s: float
    inference_s: float
    load_s: float
    first_decision_s: float | None
    peak_rss_mib: float
    stages: dict[str, tuple[float, float]]
    anon_rss_mib: float = 0.0
    file_rss_mib: float = 0.0

    @property
    def fps(self) -> float:
        """End-to-end frames per second."""
        return self.frames / self.loop_s if self.loop_s else 0.0

    @property
    def overhead_ratio(self) -> float:
        """Processing time per frame (the loop minus waiting for or decoding camera frames,
        which a live camera delivers ready) over model inference time per frame."""
        return (self.loop_s - self.camera_s) / self.inference_s if self.inference_s else float("inf")


def run(config: Config, source: str, data_dir: Path, models: tuple[str, ...] | None = None) -> LoopBench:
    """Run the loop over ``source`` unpaced, on mock pins, in scratch ``data_dir``."""
    vision = replace(config.vision, models=models) if models else config.vision
    bench = replace(
        config,
        data_dir=data_dir,
        vision=vision,
        camera=replace(config.camera, fps=0.0),
        loop=replace(config.loop, cooldown_s=0.0) if config.loop else LoopConfig(),
    )
    report = service.run(bench, source, gpio="mock", until_end=True)
    stages = {k: (float(np.median(v)), float(np.percentile(v, 95))) for k, v in report.stage_ms.items() if v}
    memory = process_memory()
    return LoopBench(
        report.frames,
        len(report.decisions),
        report.loop_s,
        report.camera_s,
        report.inference_s,
        report.load_s,
        report.first_decision_s,
        memory.get("VmHWM", 0.0),
        stages,
        memory.get("RssAnon", 0.0),
        memory.get("RssFile", 0.0) + memory.get("RssShmem", 0.0),
    )


def process_memory() -> dict[str, float]:
    """This process's peak RSS (``VmHWM``) and its resident anonymous, file-backed and shared
    (``RssShmem``: files on tmpfs) memory now, MiB, from ``/proc/self/status``; empty where that
    file does not exist.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries a parent's peak into ``ru_maxrss`` across
    fork and exec. The split matters on a small device: anonymous memory (heap, packed model
    weights) can only be freed by the process, while clean file pages (library code, mapped
    model files) are dropped by the kernel under pressure and read again when needed.
    """
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    keys = ("VmHWM", "RssAnon", "RssFile", "RssShmem")
    return {k: int(v.split()[0]) / 1024 for k, _, v in (line.partition(":") for line in lines) if k in keys}
