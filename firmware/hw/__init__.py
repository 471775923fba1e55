"""Hardware adapters: cameras (picamera2, OpenCV, replay) and the door's GPIO devices."""
