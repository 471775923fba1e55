"""Liveness: is a live face in front of the camera, or a print, a screen or a mask?

Pure per-frame cues over the face mesh and the image (:mod:`.motion`, :mod:`.blink`,
:mod:`.screen`, :mod:`.pad_model`) and a per-track accumulator (:mod:`.track`) that turns them
into one verdict per visit: ``live``, ``attack`` (with the cue) or ``not_proven`` (with the
reason). The door's policy (``firmware.policy.liveness``) decides what a verdict allows.
"""
