"""kafka-python's admin client against `reservoir serve` on 127.0.0.1:PORT: create topics (with a
Kafka config), describe their configs, add partitions, delete records, delete a topic; a producer
and a consumer with assigned partitions in between. Prints "ok", or exits 1 with the reason."""
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

bootstrap = "127.0.0.1:%s" % sys.argv[1]


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic("admin-a", 2, 1, topic_configs={"retention.ms": "3600000"}), NewTopic("admin-b", 1, 1)])
try:
    admin.create_topics([NewTopic("admin-a", 2, 1)])
    fail("creating an existing topic succeeded")
except TopicAlreadyExistsError:
    pass
if not {"admin-a", "admin-b"} <= set(admin.list_topics()):
    fail("topics not listed: %r" % admin.list_topics())

described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "admin-a")])
text = repr(described)
if "retention.ms" not in text or "3600000" not in text:
    fail("describe_configs: %s" % text[:500])

admin.create_partitions({"admin-a": NewPartitions(total_count=4)})
meta = admin.describe_topics(["admin-a"])
if len(meta[0]["partitions"]) != 4:
    fail("create_partitions: %r" % meta)

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
for n in range(20):
    producer.send("admin-b", value=b"v%d" % n, partition=0)
producer.flush()
producer.close()
deleted = admin.delete_records({TopicPartition("admin-b", 0): 15})
low = deleted
consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
consumer.assign([TopicPartition("admin-b", 0)])
consumer.seek_to_beginning()
values = [m.value for m in consumer]
consumer.close()
if values != [b"v%d" % n for n in range(15, 20)]:
    fail("after delete_records(15): %r (low watermarks %r)" % (values, low))

admin.delete_topics(["admin-a"])
if "admin-a" in set(admin.list_topics()):
    fail("admin-a still listed after delete_topics")
admin.close()
print("ok")
