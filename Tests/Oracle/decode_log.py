"""Decodes Kafka record batches with kafka-python, an independent implementation, and prints one
JSON line per record (and a first line per file with the batch count), for the interoperability
tests to compare against what Reservoir wrote."""
import json
import sys

from kafka.record.memory_records import MemoryRecords


def hexor(b):
    return None if b is None else bytes(b).hex()


def main(paths):
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        records = MemoryRecords(data)
        batches = 0
        out = []
        while True:
            batch = records.next_batch()
            if batch is None:
                break
            batches += 1
            if not batch.validate_crc():
                print(json.dumps({"error": "crc", "path": path, "batch": batches}))
                sys.exit(1)
            if batch.is_control_batch:
                # Markers (transactions, KRaft), never handed to applications.
                continue
            for r in batch:
                out.append({
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                    "key": hexor(r.key),
                    "value": hexor(r.value),
                    "headers": [[k, hexor(v)] for k, v in r.headers],
                    "codec": batch.compression_type,
                })
        print(json.dumps({"path": path, "batches": batches, "records": len(out)}))
        for o in out:
            print(json.dumps(o))


if __name__ == "__main__":
    main(sys.argv[1:])
