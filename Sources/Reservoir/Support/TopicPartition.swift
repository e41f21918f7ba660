/// A partition of a topic.
public struct TopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The topic's name.
    public var topic: String
    /// The partition's number in the topic, from 0.
    public var partition: Int

    /// Partition `partition` of `topic`.
    public init(_ topic: String, _ partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// `topic-partition`, as Kafka's tools print it.
    public var description: String { "\(topic)-\(partition)" }
}
