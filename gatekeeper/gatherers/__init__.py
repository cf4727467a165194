"""Evidence gatherers: registry I/O around the pure verifiers, cached and single-flight."""
