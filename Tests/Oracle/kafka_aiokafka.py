"""aiokafka against `reservoir serve` on 127.0.0.1:PORT: a producer (acks=all, gzip) sends keyed
records with headers, a consumer with assigned partitions reads them back and compares
everything; a group consumer reads them all and commits; after 50 more, kafka-python's group
consumer in the same group resumes from aiokafka's commits and reads exactly those 50. Prints
"ok", or exits 1 with the reason."""
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaConsumer

bootstrap = "127.0.0.1:%s" % sys.argv[1]


async def main():
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip", enable_idempotence=False)
    await producer.start()
    sent = {}
    try:
        for n in range(200):
            meta = await producer.send_and_wait("aio", key=("k%d" % (n % 9)).encode(), value=("v%d" % n).encode(),
                                                headers=[("n", str(n).encode())])
            sent[(meta.partition, meta.offset)] = (("k%d" % (n % 9)).encode(), ("v%d" % n).encode(), [("n", str(n).encode())])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = sorted({p for p, _ in sent})
        consumer.assign([TopicPartition("aio", p) for p in partitions])
        got = {}
        while len(got) < len(sent):
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 20)
            for records in batch.values():
                for m in records:
                    got[(m.partition, m.offset)] = (m.key, m.value, list(m.headers))
    finally:
        await consumer.stop()
    if got != sent:
        missing = [k for k in sent if got.get(k) != sent[k]][:3]
        fail("mismatch at %r: %r" % (missing, [got.get(k) for k in missing]))

    # A group consumer: every record once, committed.
    member = AIOKafkaConsumer("aio", bootstrap_servers=bootstrap, group_id="aio-group", enable_auto_commit=False,
                              auto_offset_reset="earliest")
    await member.start()
    grouped = {}
    try:
        while len(grouped) < len(sent):
            batch = await asyncio.wait_for(member.getmany(timeout_ms=1000), 30)
            for records in batch.values():
                for m in records:
                    if (m.partition, m.offset) in grouped:
                        fail("aiokafka group: %r twice" % ((m.partition, m.offset),))
                    grouped[(m.partition, m.offset)] = m.value
            await member.commit()
    finally:
        await member.stop()
    if set(grouped) != set(sent):
        fail("aiokafka group: read %d records of %d" % (len(grouped), len(sent)))

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for n in range(200, 250):
            await producer.send_and_wait("aio", key=("k%d" % (n % 9)).encode(), value=("v%d" % n).encode())
    finally:
        await producer.stop()


def resume():
    consumer = KafkaConsumer("aio", bootstrap_servers=bootstrap, group_id="aio-group", enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=8000)
    values = sorted(m.value.decode() for m in consumer)
    consumer.close()
    if values != sorted("v%d" % n for n in range(200, 250)):
        fail("kafka-python group: read %r" % values[:5])


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


asyncio.run(main())
resume()
print("ok")
