"""The storage, door, vision and update halves of ``occur demo``."""
