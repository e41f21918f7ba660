"""Decodes record batches with librdkafka (confluent-kafka's bundled build), an independent Kafka
client: the batches in the file given are produced as they are (one raw Produce request each) to
librdkafka's built-in mock cluster, then consumed back through librdkafka, which decompresses and
decodes them. Prints each record as a JSON line (offsets are the mock cluster's)."""
import json
import socket
import struct
import sys

from confluent_kafka import Consumer, Producer, TopicPartition


def produce_raw(host, port, topic, batch, correlation):
    name = topic.encode()
    body = struct.pack(">hhi", -1, 1, 10000)  # no transactional id, acks 1, timeout
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    client = b"reservoir-oracle"
    request = struct.pack(">hhih", 0, 3, correlation, len(client)) + client + body  # Produce v3
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", s.recv(4))[0]
        response = b""
        while len(response) < size:
            response += s.recv(size - len(response))
    # correlation id, topics count, name, partitions count, partition, error code
    at = 4 + 4
    (length,) = struct.unpack_from(">h", response, at)
    at += 2 + length + 4 + 4
    (error,) = struct.unpack_from(">h", response, at)
    assert error == 0, "produce error %d" % error


def main(path):
    data = open(path, "rb").read()
    producer = Producer({"test.mock.num.brokers": 1, "log_level": 0})
    producer.produce("t", value=b"first", partition=0)  # creates the topic
    assert producer.flush(10) == 0
    broker = next(iter(producer.list_topics(timeout=10).brokers.values()))
    at = 0
    count = 0
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">i", data, at + 8)
        produce_raw(broker.host, broker.port, "t", data[at:at + 12 + length], 2 + count)
        at += 12 + length
        count += 1
    consumer = Consumer({"bootstrap.servers": "%s:%d" % (broker.host, broker.port), "group.id": "oracle",
                         "enable.auto.commit": False, "log_level": 0})
    consumer.assign([TopicPartition("t", 0, 1)])
    _, high = consumer.get_watermark_offsets(TopicPartition("t", 0), timeout=10)
    records = []
    while not records or records[-1]["offset"] < high - 1:
        message = consumer.poll(10)
        if message is None:
            raise SystemExit("librdkafka returned nothing more before offset %d" % (high - 1))
        if message.error():
            raise SystemExit(str(message.error()))
        records.append({"offset": message.offset(), "timestamp": message.timestamp()[1],
                        "key": None if message.key() is None else message.key().hex(),
                        "value": None if message.value() is None else message.value().hex(),
                        "headers": [[k, None if v is None else v.hex()] for k, v in (message.headers() or [])]})
    consumer.close()
    for r in records:
        print(json.dumps(r))


if __name__ == "__main__":
    main(sys.argv[1])
