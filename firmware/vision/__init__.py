"""Vision: face detection, alignment and embedding. Pure compute; model files are the only I/O."""
