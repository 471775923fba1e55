"""What the firmware needs from the operating system: time, private files, logging, restart
back-off, and the platform's camera and pin packages."""
