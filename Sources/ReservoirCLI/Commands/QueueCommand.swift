import ArgumentParser
import Foundation
import Reservoir

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Take records from a work queue, or describe a queue group.",
        discussion: """
            'queue TOPIC --group G' takes the records available now (at most --max) and settles them \
            with --ack, --release or --reject. Without one they are delivered but not settled: they \
            come back, their delivery count raised. --hold keeps them locked until the process is killed. \
            --peek shows the records the next take would get without taking them (no delivery counted; \
            works while another process writes the store).
            'queue describe G' shows in-flight, acknowledged, archived and dead-lettered counts.
            """,
        subcommands: [Take.self, Describe.self], defaultSubcommand: Take.self)

    struct Take: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "take", abstract: "Take records from a work queue.")
        @OptionGroup var store: StoreOptions
        @Argument var topic: String
        @Option(help: "The queue group.") var group: String
        @Option(help: "At most this many records.") var max = 100
        @Flag(help: "Acknowledge them.") var ack = false
        @Flag(help: "Give them back (counts as a delivery).") var release = false
        @Flag(help: "Never deliver them again (archived, dead-lettered if configured).") var reject = false
        @Flag(help: "Keep them locked until the process is killed.") var hold = false
        @Flag(help: "Show the records the next take would get, without taking them.") var peek = false
        @Option(name: .customLong("dead-letter-topic"), help: "Copy archived records to this topic.") var deadLetterTopic: String?
        @Option(name: .customLong("max-deliveries"), help: "Deliveries before a record is archived.") var maxDeliveries = 5
        @Flag(help: "JSON lines with partition, offset, delivery count, key and value.") var json = false

        func validate() throws {
            guard [ack, release, reject, hold, peek].filter({ $0 }).count <= 1 else {
                throw ValidationError("give at most one of --ack, --release, --reject, --hold, --peek")
            }
            guard max > 0 else { throw ValidationError("--max must be positive") }
        }

        func run() throws {
            let reservoir = try peek ? store.openForReading(visibility: .written) : store.open()
            defer { reservoir.closeOrExit() }
            let queue = try reservoir.queue(
                group: group, topic: topic,
                options: QueueOptions(maxDeliveries: maxDeliveries, deadLetterTopic: deadLetterTopic))
            if peek {
                for entry in try queue.peek(max: max) { write(entry.record, deliveryCount: entry.deliveryCount) }
                Output.flush()
                return
            }
            let deliveries = try queue.poll(max: max)
            for delivery in deliveries { write(delivery.record, deliveryCount: delivery.deliveryCount) }
            Output.flush()
            if ack { try queue.ack(deliveries) }
            if release { try queue.release(deliveries) }
            if reject { try queue.reject(deliveries) }
            if hold {
                while true { sleep(3600) }
            }
        }

        private func write(_ record: ConsumerRecord, deliveryCount: Int) {
            if json {
                // The record's line as `consume --json` prints it, with the delivery count first.
                let line = RecordJSON.line(
                    .init(
                        topic: record.topic, partition: record.partition, offset: record.offset,
                        timestamp: record.timestamp, key: record.key, value: record.value,
                        headers: record.headers), binary: .base64)
                Output.write("{\"deliveryCount\":\(deliveryCount)," + line.dropFirst())
            } else {
                Output.write(bytes: record.value ?? [])
                Output.write("\n")
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "describe", abstract: "Counts of a queue group.")
        @OptionGroup var store: StoreOptions
        @Argument var group: String

        func run() throws {
            let reservoir = try store.openForReading()
            defer { reservoir.closeOrExit() }
            let status = try reservoir.queueStatus(group: group)
            print(
                "group \(group): in-flight \(status.inFlight), awaiting redelivery \(status.awaitingRedelivery), acknowledged \(status.acknowledged), archived \(status.archived), dead-lettered \(status.deadLettered)"
            )
        }
    }
}
