"""One member of consumer group GROUP on topic "gt" at 127.0.0.1:PORT (librdkafka, session
timeout 6 s): prints its assignment as a JSON line each time it changes, and polls until killed.

    python3 kafka_group_member.py PORT GROUP NAME
"""
import json
import sys

from confluent_kafka import Consumer

port, group, name = sys.argv[1:4]
consumer = Consumer({"bootstrap.servers": "127.0.0.1:" + port, "group.id": group, "client.id": name,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 300})


def assigned(c, partitions):
    print(json.dumps({"member": name, "assigned": sorted(p.partition for p in partitions)}), flush=True)


consumer.subscribe(["gt"], on_assign=assigned)
while True:
    consumer.poll(0.2)
