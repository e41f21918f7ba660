#!/usr/bin/env bash
# Type-checks every ```swift block of README.md and Docs/*.md against the library as built by
# `swift build` (run by `make test` after the build). Each block becomes the body of an async
# throwing function; Prelude.swift declares what the examples take as given.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/doc-examples
rm -rf "$out" && mkdir -p "$out"
python3 - "$out" README.md Docs/*.md <<'PY'
import re, sys
out, docs = sys.argv[1], sys.argv[2:]
for doc in docs:
    name = re.sub(r"[^A-Za-z0-9]", "_", doc)
    lines, block, n = open(doc).read().split("\n"), None, 0
    for line in lines:
        if block is None and line.startswith("```swift"):
            block, n = [], n + 1
        elif block is not None and line.startswith("```"):
            body = "\n".join("    " + l for l in block if not l.startswith("import "))
            with open("%s/%s_%d.swift" % (out, name, n), "w") as f:
                f.write("// %s, example %d\nimport Foundation\nimport Logging\nimport Reservoir\nimport ReservoirKafka\nimport ReservoirServiceLifecycle\nimport ServiceLifecycle\n\nfunc %s_example_%d() async throws {\n%s\n}\n" % (doc, n, name, n, body))
            block = None
        elif block is not None:
            block.append(line)
PY
count=$(ls "$out"/*.swift | wc -l)
maps=()
for m in CLZ4 CZlib CZstd CSnappy; do maps+=(-Xcc "-fmodule-map-file=Sources/$m/module.modulemap"); done
# The C modules SwiftPM wrote module maps for (CCRC32C, SwiftNIO's) as the build left them.
for m in .build/debug/*.build/module.modulemap .build/checkouts/*/Sources/*/include/module.modulemap; do
    [ -f "$m" ] && maps+=(-Xcc "-fmodule-map-file=$m")
done
swiftc -typecheck -swift-version 6 -I .build/debug/Modules -I Sources/CCRC32C/include "${maps[@]}" \
    Tests/DocExamples/Prelude.swift "$out"/*.swift
echo "documentation examples: $count type-check"
