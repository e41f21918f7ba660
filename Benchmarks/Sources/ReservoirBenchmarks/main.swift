import BenchLZ4
import Foundation
import Reservoir

// `make bench`: every comparison runs in the same process, alternating rounds, medians reported.
// Arguments: scenario names to run (parts, append, durable, read, recovery, rss, compaction, consumers); none runs all.

let selected = Set(CommandLine.arguments.dropFirst())
func wants(_ name: String) -> Bool { selected.isEmpty || selected.contains(name) }
try? FileManager.default.createDirectory(atPath: Harness.scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: Harness.scratch) }

print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; rounds per figure: \(Harness.rounds) (median)")
print("CRC32C hardware path: \(CRC32C.isHardwareAccelerated)\n")
if ProcessInfo.processInfo.environment["BENCH_WARM"] != "0" { Harness.warmUp() }

if wants("parts") { try PartsBenchmarks.run() }
if wants("append") { try AppendBenchmarks.run() }
if wants("durable") { try DurableBenchmarks.run() }
if wants("read") { try ReadBenchmarks.run() }
if wants("recovery") { try RecoveryBenchmarks.run() }
if wants("rss") { try MemoryBenchmarks.run() }
if wants("compaction") { try CompactionBenchmarks.run() }
if wants("consumers") { try ConsumerBenchmarks.run() }
