"""Moving articles in and out of the archive: Jekyll posts, and between backends."""
