"""Build-time converter toolkit: dlib and ONNX readers, TFLite flatbuffer writer (no TensorFlow)."""
