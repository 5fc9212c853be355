"""ILSTC customs exchange broker: national declaration formats <-> signed Avro over Apache Kafka."""

__version__ = "0.1.0"
