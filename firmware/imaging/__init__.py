"""Image files and pixels: the header check before any decode, decoding and encoding, and the OpenCV
operations on pixels (the one adapter for ``cv2`` besides the OpenCV camera). Hardware (the replay
camera) and vision both use it; it uses neither."""
