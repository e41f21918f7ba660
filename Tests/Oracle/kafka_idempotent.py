"""librdkafka (confluent-kafka) idempotent producers against a broker at 127.0.0.1:PORT.

    kafka_idempotent.py PORT codecs
        For each codec, 300 keyed records to topic "idem-CODEC" with enable.idempotence=true and
        acks=all; prints each delivery report as "codec partition offset value", then "ok".

    kafka_idempotent.py PORT stream COUNT
        COUNT records to topic "idem" as fast as the broker takes them, retrying across broker
        restarts (message.timeout.ms 60 s); prints each delivery as "partition offset value" as it
        arrives, then "done FAILED" with the number of records not delivered.
"""
import sys

from confluent_kafka import Producer

port, mode = sys.argv[1], sys.argv[2]
bootstrap = "127.0.0.1:" + port


def config(**extra):
    settings = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 2, "log_level": 0}
    settings.update(extra)
    return settings


if mode == "codecs":
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        reports = []
        producer = Producer(config(**{"compression.type": codec}))
        for n in range(300):
            producer.produce("idem-" + codec, key=("k%d" % (n % 7)).encode(), value=("%s-%d" % (codec, n)).encode(),
                             on_delivery=lambda err, msg: reports.append((err, msg)))
        producer.flush(30)
        for err, msg in reports:
            if err is not None:
                print("delivery failed: %s" % err, file=sys.stderr)
                sys.exit(1)
            print("%s %d %d %s" % (codec, msg.partition(), msg.offset(), msg.value().decode()))
    print("ok")
else:
    count = int(sys.argv[3])
    failed = []

    def delivered(err, msg):
        if err is not None:
            failed.append(err)
        else:
            sys.stdout.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.value().decode()))
            sys.stdout.flush()

    producer = Producer(config(**{"message.timeout.ms": 60000, "reconnect.backoff.max.ms": 200}))
    n = 0
    while n < count:
        try:
            producer.produce("idem", key=("k%d" % (n % 11)).encode(), value=("v%d" % n).encode(), on_delivery=delivered)
            n += 1
        except BufferError:
            producer.poll(0.01)
        producer.poll(0)
    producer.flush(90)
    print("done %d" % len(failed))
