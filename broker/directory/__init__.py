"""The corridor directory: members, agreements and topic layout, defined once by the secretariat.

- `model`: the typed definition (pure) and what it means for one node (partners, routes).
- `load`: the TOML file kept in the repository (`deploy/corridor.toml` for the demo).
- `entries`: the definition as signed records on the compacted `<namespace>.corridor` topic.
- `layout`, `access`: the topics and the per-node Kafka users and ACLs it implies (pure).
- `broker.transport.corridor_admin` (not here: only the transport imports aiokafka) applies both
  to a cluster and reports drift.
- `follow`: a running node's live view of the directory topic.
"""
