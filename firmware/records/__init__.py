"""What the door keeps besides database rows: event pictures (snapshots) and their retention."""
