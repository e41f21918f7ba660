"""Fetches a whole partition from a Kafka broker ROUNDS times over one connection with raw Fetch
v4 requests, without decoding records: the broker's fetch path, not a client's record decoding,
sets the pace. Prints the bytes fetched and the wall time.

    python3 kafka_fetch.py HOST:PORT TOPIC PARTITION ROUNDS [MAX_BYTES]
"""
import socket
import struct
import sys
import time


def fetch_request(correlation, topic, partition, offset, max_bytes):
    name = topic.encode()
    # replica id, max wait, min bytes, max bytes, isolation level (tansu answers nothing to a
    # max wait of 0; with data there, both brokers answer at once)
    body = struct.pack(">iiiib", -1, 500, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    header = struct.pack(">hhi", 1, 4, correlation) + struct.pack(">h", 5) + b"bench"
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def receive(sock, count, buffer):
    view = memoryview(buffer)
    filled = 0
    while filled < count:
        got = sock.recv_into(view[filled:count])
        if got == 0:
            raise EOFError("connection closed")
        filled += got
    return view[:count]


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    topic, partition, rounds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    max_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else 8 << 20
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(max_bytes + (1 << 20))
    total = 0
    correlation = 0
    started = time.monotonic()
    for _ in range(rounds):
        offset = 0
        while True:
            correlation += 1
            sock.sendall(fetch_request(correlation, topic, partition, offset, max_bytes))
            size = struct.unpack(">i", receive(sock, 4, buffer))[0]
            frame = receive(sock, size, buffer)
            # correlation, throttle, 1 topic (name), 1 partition: index, error, high watermark,
            # last stable offset, aborted transactions (null), records.
            at = 4 + 4 + 4
            name_length = struct.unpack_from(">h", frame, at)[0]
            at += 2 + name_length + 4
            _, error, high_watermark, _ = struct.unpack_from(">ihqq", frame, at)
            at += 4 + 2 + 8 + 8
            aborted = struct.unpack_from(">i", frame, at)[0]
            at += 4 + max(aborted, 0) * 16
            length = struct.unpack_from(">i", frame, at)[0]
            at += 4
            if error != 0:
                raise SystemExit("fetch error %d" % error)
            end = at + length
            last = offset
            while at + 12 <= end:
                base, batch_length = struct.unpack_from(">qi", frame, at)
                if at + 12 + batch_length > end:
                    break
                delta = struct.unpack_from(">i", frame, at + 23)[0]
                last = base + delta + 1
                at += 12 + batch_length
            total += length
            # A fetch that brings no complete batch also ends the round, should a broker's high
            # watermark not be the log's end.
            if last == offset:
                break
            offset = last
            if offset >= high_watermark:
                break
    elapsed = time.monotonic() - started
    print("%d %.6f" % (total, elapsed))


main()
