"""The I/O edge: Kafka producers, consumers and admin behind small protocols.

`base` is pure (records, protocols); `kafka` is the only module importing aiokafka; `memory` is an
in-memory twin for fast unit tests of node logic (every behaviour is also proven on real Kafka).
"""
