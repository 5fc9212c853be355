"""Local Apache Kafka for development, tests and the demo: jars from Maven Central, no Docker."""
