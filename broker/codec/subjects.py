"""Subject name strategies of Confluent's serializers: which registry subject a schema is under.

`topic` (TopicNameStrategy, `<topic>-value`), `record` (RecordNameStrategy, the record's full
name) and `topic-record` (TopicRecordNameStrategy, `<topic>-<record full name>`).
"""

from __future__ import annotations

from enum import StrEnum

from broker.errors import CodecError


class SubjectNameStrategy(StrEnum):
    TOPIC = "topic"  # TopicNameStrategy: <topic>-value
    RECORD = "record"  # RecordNameStrategy: <record full name>
    TOPIC_RECORD = "topic-record"  # TopicRecordNameStrategy: <topic>-<record full name>

    def subject(self, topic: str | None, record_full_name: str) -> str:
        if self is SubjectNameStrategy.RECORD:
            return record_full_name
        if not topic:
            raise CodecError(f"subject name strategy {self} needs the topic the record goes to")
        if self is SubjectNameStrategy.TOPIC:
            return f"{topic}-value"
        return f"{topic}-{record_full_name}"
