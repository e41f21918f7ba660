"""Consumer groups against a Kafka broker at 127.0.0.1:PORT, with librdkafka (confluent-kafka)
and kafka-python:

1. 400 keyed records to topic "gt" (4 partitions, created beforehand); two consumers in group
   "g1" share the partitions (disjoint assignments covering all four), read every record once
   and commit after each;
2. 100 more; the first consumer leaves, the second takes over every partition and reads them;
3. 50 more; the second leaves; a new consumer in the group resumes from the commits and reads
   exactly those 50;
4. kafka-python's admin client lists the group, describes it, reads its committed offsets and,
   once the last member left, deletes it.

Prints "ok"; exits 1 with a reason on the first difference.

    python3 kafka_groups.py PORT
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaAdminClient

bootstrap = "127.0.0.1:" + sys.argv[1]


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def produce(start, count):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False, "linger.ms": 2})
    for n in range(start, start + count):
        producer.produce("gt", key=("k%d" % n).encode(), value=("v%d" % n).encode())
    if producer.flush(30) != 0:
        fail("records not delivered")


def consumer(name):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g1", "client.id": name, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
                  "partition.assignment.strategy": "range"})
    c.subscribe(["gt"])
    return c


def drain(consumers, wanted, seen, timeout=40):
    """Polls the consumers in turn until `wanted` records arrived, committing each one."""
    got = {c: [] for c in consumers}
    deadline = time.time() + timeout
    while sum(len(v) for v in got.values()) < wanted and time.time() < deadline:
        for c in consumers:
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            key = (m.partition(), m.offset())
            if key in seen:
                fail("record %r delivered twice" % (key,))
            seen.add(key)
            got[c].append(m.value().decode())
            c.commit(message=m, asynchronous=False)
    total = sum(len(v) for v in got.values())
    if total != wanted:
        fail("%d records consumed, expected %d" % (total, wanted))
    return got


seen = set()
produce(0, 400)
first, second = consumer("first"), consumer("second")
got = drain([first, second], 400, seen)
values = sorted(got[first] + got[second])
if values != sorted("v%d" % n for n in range(400)):
    fail("phase 1: the records read are not the records produced")
# Both members were assigned: each had its share, and the shares covered the topic once.
deadline = time.time() + 20
while time.time() < deadline and (not first.assignment() or not second.assignment()):
    first.poll(0.1)
    second.poll(0.1)
mine = {p.partition for p in first.assignment()}
theirs = {p.partition for p in second.assignment()}
if not mine or not theirs or mine & theirs or mine | theirs != {0, 1, 2, 3}:
    fail("phase 1: assignments %r and %r do not split the four partitions" % (sorted(mine), sorted(theirs)))

produce(400, 100)
first.close()
got = drain([second], 100, seen)
if sorted(got[second]) != sorted("v%d" % n for n in range(400, 500)):
    fail("phase 2: the remaining member did not read the new records")
if {p.partition for p in second.assignment()} != {0, 1, 2, 3}:
    fail("phase 2: the remaining member has %r" % sorted(p.partition for p in second.assignment()))
second.close()

produce(500, 50)
third = consumer("third")
got = drain([third], 50, seen)
if sorted(got[third]) != sorted("v%d" % n for n in range(500, 550)):
    fail("phase 3: the new member did not resume from the commits")
ends = {p: third.get_watermark_offsets(TopicPartition("gt", p), 10)[1] for p in range(4)}
committed = {tp.partition: tp.offset for tp in third.committed([TopicPartition("gt", p) for p in range(4)], 10)}
if committed != ends:
    fail("phase 3: committed %r, log ends %r" % (committed, ends))

admin = KafkaAdminClient(bootstrap_servers=bootstrap)
listed = {group["group_id"]: group for group in admin.list_groups()}
if listed.get("g1", {}).get("group_state") != "Stable":
    fail("admin: groups listed %r" % listed)
described = admin.describe_groups(["g1"])["g1"]
members = described["members"]
if described["group_state"] != "Stable" or len(members) != 1 or members[0]["client_id"] != "third" \
        or members[0]["member_assignment"]["assigned_partitions"] != [{"topic": "gt", "partitions": [0, 1, 2, 3]}]:
    fail("admin: g1 described as %r" % (described,))
offsets = {tp.partition: meta.offset for tp, meta in admin.list_group_offsets("g1")["g1"].items()}
if offsets != ends:
    fail("admin: committed offsets %r, log ends %r" % (offsets, ends))
third.close()
# Empty now: its committed offsets can be deleted.
admin.delete_groups(["g1"])
if "g1" in {group["group_id"] for group in admin.list_groups()}:
    fail("admin: g1 still listed after its deletion")
admin.close()
print("ok")
