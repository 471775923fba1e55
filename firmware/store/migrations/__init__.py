"""Numbered SQL migrations, ``NNNN_name.sql``; a released file is never edited."""
