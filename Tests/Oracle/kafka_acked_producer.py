"""librdkafka (confluent-kafka) producing with acks=all to `reservoir serve` on 127.0.0.1:PORT for
up to SECONDS, printing each delivered record as it is acknowledged ("partition offset value"),
flushed at once: the lines a crash test holds the store to. Ends quietly when the broker is gone."""
import sys
import time

from confluent_kafka import Producer

port, seconds = int(sys.argv[1]), float(sys.argv[2])
producer = Producer({"bootstrap.servers": "127.0.0.1:%d" % port, "acks": "all", "enable.idempotence": False, "linger.ms": 2,
                     "message.timeout.ms": 3000, "retries": 0, "log_level": 0})


failed = []


def delivered(err, msg):
    if err is not None:
        failed.append(err)
    else:
        sys.stdout.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.value().decode()))
        sys.stdout.flush()


deadline = time.time() + seconds
n = 0
while time.time() < deadline and not failed:
    try:
        producer.produce("acked", key=("k%d" % (n % 11)).encode(), value=("v%d" % n).encode(), on_delivery=delivered)
        n += 1
    except BufferError:
        pass
    producer.poll(0.001 if n % 50 else 0.01)
producer.flush(0 if failed else 5)
