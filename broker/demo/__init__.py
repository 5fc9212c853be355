"""The corridor demo: every member of the directory on a local SASL Kafka, realistic traffic."""
