"""aiokafka against `reservoir serve` on 127.0.0.1:PORT: a producer (acks=all, gzip) sends keyed
records with headers, a consumer with assigned partitions reads them back and compares
everything. Prints "ok", or exits 1 with the reason."""
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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
        print("mismatch at %r: %r" % (missing, [got.get(k) for k in missing]), file=sys.stderr)
        sys.exit(1)
    print("ok")


asyncio.run(main())
