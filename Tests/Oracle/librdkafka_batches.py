"""Record batches encoded by librdkafka (confluent-kafka's bundled build), an independent Kafka
client: records are produced in the codec given to librdkafka's built-in mock cluster, which
keeps the batches exactly as the producer encoded them; one Fetch request then reads those bytes
back. Writes them to the file given and prints the produced records as JSON lines."""
import json
import socket
import struct
import sys

from confluent_kafka import Producer


def fetch_raw(host, port, topic, offset):
    """Raw record batches of partition 0 of `topic` from `offset`, by a Fetch v4 request."""
    name = topic.encode()
    body = struct.pack(">iiiib", -1, 100, 0, 64 << 20, 0)  # replica, max wait, min bytes, max bytes, isolation
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, 64 << 20)  # partition 0
    client = b"reservoir-oracle"
    header = struct.pack(">hhih", 1, 4, 1, len(client)) + client  # Fetch v4, correlation id 1
    request = header + body
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)

        def read(n):
            data = b""
            while len(data) < n:
                chunk = s.recv(n - len(data))
                if not chunk:
                    raise EOFError("the mock broker closed the connection")
                data += chunk
            return data

        size = struct.unpack(">i", read(4))[0]
        response = read(size)
    at = 4 + 4  # correlation id, throttle time
    (topics,) = struct.unpack_from(">i", response, at)
    at += 4
    assert topics == 1
    (length,) = struct.unpack_from(">h", response, at)
    at += 2 + length
    (partitions,) = struct.unpack_from(">i", response, at)
    at += 4
    assert partitions == 1
    partition, error, _high, _stable = struct.unpack_from(">ihqq", response, at)
    at += 4 + 2 + 8 + 8
    assert error == 0, "fetch error %d" % error
    (aborted,) = struct.unpack_from(">i", response, at)
    at += 4 + max(aborted, 0) * 16
    (records,) = struct.unpack_from(">i", response, at)
    at += 4
    return response[at:at + records]


def main(codec, path):
    producer = Producer({"test.mock.num.brokers": 1, "compression.type": codec, "linger.ms": 50,
                         "batch.num.messages": 100, "log_level": 0})
    expected = []
    for n in range(250):
        key = None if n % 7 == 0 else ("key-%d" % n).encode()
        value = None if n % 13 == 0 else (("value-%d-" % n) + "y" * (n % 200)).encode()
        headers = [("h", ("%d" % n).encode())] if n % 3 == 0 else None
        timestamp = 1764000000000 + n
        producer.produce("t", key=key, value=value, headers=headers, timestamp=timestamp, partition=0)
        expected.append({"offset": n, "timestamp": timestamp,
                         "key": None if key is None else key.hex(),
                         "value": None if value is None else value.hex(),
                         "headers": [[k, v.hex()] for k, v in (headers or [])]})
    assert producer.flush(10) == 0
    broker = next(iter(producer.list_topics(timeout=10).brokers.values()))
    # The mock broker hands out a batch or a few per fetch: fetch on from after the last one.
    raw = b""
    offset = 0
    while offset < len(expected):
        chunk = fetch_raw(broker.host, broker.port, "t", offset)
        assert chunk, "no batch at offset %d" % offset
        at = 0
        while at + 61 <= len(chunk):
            base, length = struct.unpack_from(">qi", chunk, at)
            (delta,) = struct.unpack_from(">i", chunk, at + 23)
            if at + 12 + length > len(chunk):
                break  # a partial batch at the end of the response
            raw += chunk[at:at + 12 + length]
            offset = base + delta + 1
            at += 12 + length
    with open(path, "wb") as f:
        f.write(raw)
    for e in expected:
        print(json.dumps(e))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
