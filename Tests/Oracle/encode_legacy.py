"""Writes a segment file in Kafka's legacy message formats with kafka-python: magic 0 and magic 1
messages, plain and gzip-compressed, then a record batch (magic 2), as a broker upgraded over the
years leaves them; prints every message (those inside compressed wrappers too) as JSON lines."""
import json
import sys

from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder


def main(path):
    out = bytearray()
    plain = []
    offset = 0
    for magic in (0, 1):
        for codec in (0, 1):
            builder = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
            for i in range(3):
                key = None if i == 0 else b"key-%d" % offset
                value = b"legacy-%d-%d" % (magic, offset)
                # Inner messages of a magic 1 wrapper count from 0; magic 0 stores absolute offsets.
                builder.append(i if codec != 0 and magic == 1 else offset, 1600000000000 + offset if magic == 1 else None, key, value)
                plain.append({"offset": offset, "magic": magic, "key": None if key is None else key.hex(), "value": value.hex()})
                offset += 1
            built = builder.build()
            if codec != 0:
                # The wrapper carries the last inner offset.
                built[0:8] = (offset - 1).to_bytes(8, "big")
            out += built
    batch = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                      producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    batch.append(0, 1700000000000, b"k", b"after the legacy messages", [])
    built = batch.build()
    built[0:8] = offset.to_bytes(8, "big")
    out += built
    with open(path, "wb") as f:
        f.write(out)
    for p in plain:
        print(json.dumps(p))


if __name__ == "__main__":
    main(sys.argv[1])
