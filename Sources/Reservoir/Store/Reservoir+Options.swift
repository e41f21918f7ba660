import Logging

extension Reservoir {
    /// How a process uses a store.
    public enum Access: Sendable, Hashable {
        /// This process writes the store: it takes the store's lock (one writer at a time),
        /// recovers it and runs its maintenance.
        case readWrite
        /// This process only reads the store, while another process may write it (any number of
        /// processes may): nothing on disk is created, locked, recovered or changed, appends and
        /// settings changes fail with ``ReservoirError/Code/readOnly``, and the writer's appends,
        /// rolls, retention and compaction are followed as it publishes them. Reads stop at the
        /// writer's durable end (`.durable`: never a record a power cut could take back) or at
        /// its written end (`.written`: what it has written, which survives its crash but not a
        /// power cut). See Docs/DURABILITY.md.
        case readOnly(ReadIsolation)
    }

    /// How a store is opened.
    public struct Options: Sendable {
        /// Whether this process writes the store or only reads it (``Access``).
        public var access: Access = .readWrite
        /// Single-record appends wait this long for more records before their batch is written;
        /// 0 writes as soon as the previous batch is out (batches still form under load).
        public var lingerMilliseconds: Int = 0
        /// Where recovery and maintenance report (swift-log).
        public var logger: Logger = Logger(label: "reservoir")
        /// Threads that recover partitions at open.
        public var recoveryThreads: Int = 2
        /// How often the maintenance thread rolls, applies retention and compacts, in ms (15 s);
        /// 0 runs maintenance only on demand (``Reservoir/maintain(topic:retention:compaction:ignoringDirtyRatio:now:)``).
        public var maintenanceIntervalMilliseconds: Int = 15_000
        /// Memory for the compaction key map, 24 bytes per distinct key (64 MiB: about 2 M keys
        /// per pass; a larger dirty section takes several passes).
        public var cleanerMapBytes: Int = 64 << 20
        /// Repair damage found at open instead of only reporting it (false): keep every batch that
        /// passes its checks, move damaged files into the partition's `quarantine/` folder and mark
        /// lost offsets with empty batches, so that the log reads past them (`reservoir verify
        /// --repair`; see Docs/DURABILITY.md). An operator's choice, never a default.
        public var repairDamage: Bool = false
        /// How long a partition remembers an idempotent producer after its last batch, in ms
        /// (Kafka's `producer.id.expiration.ms`, one day): a retry after that is refused as from
        /// an unknown producer rather than recognised as a duplicate.
        public var producerIdExpirationMilliseconds: Int64 = 86_400_000

        /// Options with the defaults above.
        public init(
            lingerMilliseconds: Int = 0, logger: Logger = Logger(label: "reservoir"), recoveryThreads: Int = 2,
            maintenanceIntervalMilliseconds: Int = 15_000, cleanerMapBytes: Int = 64 << 20, repairDamage: Bool = false,
            producerIdExpirationMilliseconds: Int64 = 86_400_000, access: Access = .readWrite
        ) {
            self.access = access
            self.repairDamage = repairDamage
            self.producerIdExpirationMilliseconds = producerIdExpirationMilliseconds
            self.lingerMilliseconds = lingerMilliseconds
            self.logger = logger
            self.recoveryThreads = recoveryThreads
            self.maintenanceIntervalMilliseconds = maintenanceIntervalMilliseconds
            self.cleanerMapBytes = cleanerMapBytes
        }
    }
}
