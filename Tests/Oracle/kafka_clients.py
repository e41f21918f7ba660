"""Real Kafka clients against `reservoir serve` on 127.0.0.1:PORT: kafka-python and librdkafka
(confluent-kafka) produce with acks=all (librdkafka in every codec), then consume back with
assigned partitions and compare everything; offsets_for_times. Prints one JSON line per record
kafka-python produced (topic, partition, offset, key and value in hex), then "ok"; exits 1 with
the reason on any mismatch."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition as CTopicPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

port = int(sys.argv[1])
bootstrap = "127.0.0.1:%d" % port


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


# kafka-python: keyed records with headers over the topic's partitions, acks=all.
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=False)
sent = []
for n in range(300):
    key = None if n % 10 == 0 else ("key-%d" % (n % 37)).encode()
    value = None if n % 50 == 7 else ("value-%d" % n).encode() * (1 + n % 3)
    sent.append((key, value, [("n", str(n).encode())], producer.send("kp", key=key, value=value, headers=[("n", str(n).encode())])))
producer.flush()
produced = []
for key, value, headers, future in sent:
    meta = future.get(timeout=10)
    produced.append((meta.partition, meta.offset, key, value, headers))
producer.close()

consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000)
partitions = sorted({p for p, _, _, _, _ in produced})
consumer.assign([TopicPartition("kp", p) for p in partitions])
consumer.seek_to_beginning()
consumed = {(m.partition, m.offset): (m.key, m.value, m.headers) for m in consumer}
consumer.close()
for partition, offset, key, value, headers in produced:
    got = consumed.get((partition, offset))
    if got != (key, value, headers):
        fail("kafka-python: partition %d offset %d came back as %r, sent %r" % (partition, offset, got, (key, value, headers)))
if len(consumed) != len(produced):
    fail("kafka-python: %d records consumed, %d produced" % (len(consumed), len(produced)))

# librdkafka: each codec, acks=all, delivery reports, consumed back, offsets_for_times.
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    topic = "rd-" + codec
    reports = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec, "enable.idempotence": False,
                  "linger.ms": 5})
    stamp = int(time.time() * 1000) - 60000
    for n in range(400):
        p.produce(topic, key=("k%d" % (n % 13)).encode(), value=("v%d" % n).encode() * 20, headers=[("n", str(n).encode())],
                  timestamp=stamp + n, on_delivery=lambda err, msg: reports.append((err, msg.partition(), msg.offset(), msg.key(),
                                                                                      msg.value())))
    p.flush(30)
    if len(reports) != 400 or any(r[0] is not None for r in reports):
        fail("librdkafka %s: delivery reports %r" % (codec, [r for r in reports if r[0] is not None][:3] or len(reports)))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    parts = sorted({r[1] for r in reports})
    c.assign([CTopicPartition(topic, part, 0) for part in parts])
    got = {}
    deadline = time.time() + 20
    while len(got) < 400 and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            fail("librdkafka %s: consume error %s" % (codec, m.error()))
        got[(m.partition(), m.offset())] = (m.key(), m.value())
    for err, part, offset, key, value in reports:
        if got.get((part, offset)) != (key, value):
            fail("librdkafka %s: partition %d offset %d came back as %r" % (codec, part, offset, got.get((part, offset))))
    # The first record at or after a timestamp, per partition.
    wanted = {}
    for err, part, offset, key, value in reports:
        n = int(value[1:].split(b"v")[0])
        wanted.setdefault(part, []).append((stamp + n, offset))
    for part, entries in wanted.items():
        target = entries[len(entries) // 2][0]
        expected = min(offset for ts, offset in entries if ts >= target)
        found = c.offsets_for_times([CTopicPartition(topic, part, target)], 10)[0].offset
        if found != expected:
            fail("librdkafka %s: offsets_for_times(%d) on partition %d gave %d, expected %d" % (codec, target, part, found, expected))
    c.close()

for partition, offset, key, value, headers in produced:
    print(json.dumps({"topic": "kp", "partition": partition, "offset": offset, "key": key.hex() if key is not None else None,
                      "value": value.hex() if value is not None else None}))
print("ok")
