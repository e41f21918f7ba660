"""Encodes record batches with kafka-python, an independent implementation, in the codec given
by name, into the file given, and prints the records it encoded as JSON lines, so that the tests
can check that Reservoir decodes another client's batches in every codec exactly."""
import json
import sys

from kafka.record.default_records import DefaultRecordBatchBuilder

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def main(codec, path):
    out = bytearray()
    records = []
    offset = 0
    for batch in range(4):
        builder = DefaultRecordBatchBuilder(
            magic=2, compression_type=CODECS[codec], is_transactional=False,
            producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 22)
        for i in range(200 if batch == 3 else 25):
            n = batch * 1000 + i
            key = None if n % 7 == 0 else ("key-%d" % n).encode()
            value = None if n % 13 == 0 else (("value-%d-" % n) + "x" * (n % 300)).encode()
            headers = [("h", ("%d" % n).encode()), ("empty", None)] if n % 3 == 0 else []
            timestamp = 1764000000000 + n
            builder.append(i, timestamp, key, value, headers)
            records.append({"offset": offset, "timestamp": timestamp,
                            "key": None if key is None else key.hex(),
                            "value": None if value is None else value.hex(),
                            "headers": [[k, None if v is None else v.hex()] for k, v in headers]})
            offset += 1
        built = builder.build()
        # The builder numbers records from 0 in each batch: the batch's base offset places them.
        base = offset - (200 if batch == 3 else 25)
        built[0:8] = base.to_bytes(8, "big")
        out += built
    with open(path, "wb") as f:
        f.write(out)
    for r in records:
        print(json.dumps(r))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
