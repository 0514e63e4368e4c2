"""Volume drivers: ``simulated`` (sparse files) and ``loop`` (the same files on loop devices)."""
