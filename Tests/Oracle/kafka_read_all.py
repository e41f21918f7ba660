"""Reads every record of TOPIC's PARTITIONS partitions from a broker at 127.0.0.1:PORT with
librdkafka (confluent-kafka), until nothing has arrived for two seconds (some brokers' watermarks
are not to be trusted), and prints them as JSON lines sorted by partition and offset: partition,
offset, key, value, headers, timestamp.

    python3 kafka_read_all.py PORT TOPIC PARTITIONS
"""
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition

port, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = Consumer({"bootstrap.servers": "127.0.0.1:" + port, "group.id": "reader", "enable.auto.commit": False})
consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
records = []
idle = time.time() + 10
while time.time() < idle:
    m = consumer.poll(0.2)
    if m is None or m.error():
        continue
    records.append({"partition": m.partition(), "offset": m.offset(), "key": m.key().decode() if m.key() is not None else None,
                    "value": m.value().decode() if m.value() is not None else None,
                    "headers": [[k, v.decode()] for k, v in (m.headers() or [])], "timestamp": m.timestamp()[1]})
    idle = time.time() + 2
consumer.close()
for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
    print(json.dumps(record))
