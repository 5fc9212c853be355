"""A corridor node: one customs administration's connection to the corridor (the runtime)."""
