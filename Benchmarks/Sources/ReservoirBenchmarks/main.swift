import BenchLZ4
import Foundation
import Reservoir

// `make bench`: every comparison runs in the same process, alternating rounds, medians reported.
// Arguments: scenario names to run (parts, append, durable, read, recovery, rss, compaction, consumers, peers, cli); none runs all.

let selected = Set(CommandLine.arguments.dropFirst())
func wants(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }
try? FileManager.default.createDirectory(atPath: Harness.scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: Harness.scratch) }

print(
    "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; rounds per figure: \(Harness.rounds) (median)"
)
print("CRC32C hardware path: \(CRC32C.isHardwareAccelerated)\n")
if ProcessInfo.processInfo.environment["BENCH_WARM"] != "0" { Harness.warmUp() }

let scenarios: [(String, () throws -> Void)] = [
    ("parts", PartsBenchmarks.run), ("append", AppendBenchmarks.run), ("durable", DurableBenchmarks.run),
    ("read", ReadBenchmarks.run), ("recovery", RecoveryBenchmarks.run), ("rss", MemoryBenchmarks.run),
    ("compaction", CompactionBenchmarks.run), ("consumers", ConsumerBenchmarks.run), ("peers", PeersBenchmarks.run),
    ("cli", CommandLineBenchmarks.run),
]
for (name, run) in scenarios where wants(name) {
    Harness.settle()
    try run()
}
