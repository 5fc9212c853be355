"""The corridor demo: four nodes on a local Kafka exchanging realistic traffic."""
