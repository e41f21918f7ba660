import Logging
import NIOCore
import Reservoir

#if canImport(Glibc)
import Glibc
#endif

/// The client a request came from, for the group APIs that report it.
struct KafkaClient: Sendable {
    var id: String
    var host: String
}

extension KafkaBroker {
    /// FindCoordinator: this broker coordinates every group; transactions are not served.
    func findCoordinator(_ request: FindCoordinatorRequest, version: Int16) -> FindCoordinatorResponse {
        var response = FindCoordinatorResponse()
        let error: KafkaErrorCode = request.keyType == 0 ? .none : .coordinatorNotAvailable
        let message = error == .none ? nil : "only consumer groups are coordinated here (no transactions)"
        if version >= 4 {
            response.coordinators = request.coordinatorKeys.map { key in
                var coordinator = FindCoordinatorResponse.Coordinator()
                coordinator.key = key
                coordinator.nodeId = error == .none ? 0 : -1
                coordinator.host = error == .none ? configuration.advertisedHost : ""
                coordinator.port = error == .none ? Int32(configuration.advertisedPort) : -1
                coordinator.errorCode = error.rawValue
                coordinator.errorMessage = message
                return coordinator
            }
        } else {
            response.errorCode = error.rawValue
            response.errorMessage = message
            response.nodeId = error == .none ? 0 : -1
            response.host = error == .none ? configuration.advertisedHost : ""
            response.port = error == .none ? Int32(configuration.advertisedPort) : -1
        }
        return response
    }

    /// OffsetCommit: the group's member and generation checked, then the offsets committed
    /// durably to the store's `__consumer_offsets`.
    func offsetCommit(_ request: OffsetCommitRequest) async -> OffsetCommitResponse {
        let allowed = groups.commitAllowed(
            group: request.groupId, memberId: request.memberId, generation: request.generationIdOrMemberEpoch)
        var codes: [TopicPartition: KafkaErrorCode] = [:]
        var commits: [TopicPartition: CommittedOffset] = [:]
        let now = Self.wallClockMilliseconds()
        for topic in request.topics {
            let known = try? store.topic(topic.name)
            for partition in topic.partitions {
                let key = TopicPartition(topic.name, Int(partition.partitionIndex))
                if request.groupId.isEmpty {
                    codes[key] = .invalidGroupId
                } else if allowed != .none {
                    codes[key] = allowed
                } else if let known, partition.partitionIndex >= 0, Int(partition.partitionIndex) < known.config.partitions {
                    let metadata = partition.committedMetadata ?? ""
                    if metadata.utf8.count > 4096 {
                        codes[key] = .offsetMetadataTooLarge
                    } else if partition.committedOffset < 0 {
                        codes[key] = .invalidRequest
                    } else {
                        commits[key] = CommittedOffset(offset: partition.committedOffset, metadata: metadata, commitTimestamp: now)
                    }
                } else {
                    codes[key] = .unknownTopicOrPartition
                }
            }
        }
        if !commits.isEmpty {
            do {
                try await store.commitGroupOffsets(request.groupId, commits)
                for key in commits.keys { codes[key] = KafkaErrorCode.none }
            } catch {
                let code = (error as? ReservoirError).map(KafkaErrorCode.init) ?? .unknownServerError
                logger.warning("offset commit failed", metadata: ["group": "\(request.groupId)", "error": "\(error)"])
                for key in commits.keys { codes[key] = code }
            }
        }
        var response = OffsetCommitResponse()
        response.topics = request.topics.map { topic in
            var entry = OffsetCommitResponse.OffsetCommitResponseTopic()
            entry.name = topic.name
            entry.partitions = topic.partitions.map { partition in
                var result = OffsetCommitResponse.OffsetCommitResponsePartition()
                result.partitionIndex = partition.partitionIndex
                result.errorCode = (codes[TopicPartition(topic.name, Int(partition.partitionIndex))] ?? .none).rawValue
                return result
            }
            return entry
        }
        return response
    }

    static func wallClockMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// OffsetFetch: a group's committed offsets (-1 where none), for the partitions asked or all.
    func offsetFetch(_ request: OffsetFetchRequest, version: Int16) -> OffsetFetchResponse {
        var response = OffsetFetchResponse()
        if version >= 8 {
            response.groups = request.groups.map { group in
                var entry = OffsetFetchResponse.OffsetFetchResponseGroup()
                entry.groupId = group.groupId
                let asked = group.topics.map { $0.map { ($0.name, $0.partitionIndexes) } }
                entry.topics = committed(group.groupId, asked).map { name, partitions in
                    var topic = OffsetFetchResponse.OffsetFetchResponseTopics()
                    topic.name = name
                    topic.partitions = partitions.map { index, commit in
                        var partition = OffsetFetchResponse.OffsetFetchResponsePartitions()
                        partition.partitionIndex = index
                        partition.committedOffset = commit?.offset ?? -1
                        partition.metadata = commit?.metadata ?? ""
                        return partition
                    }
                    return topic
                }
                return entry
            }
        } else {
            let asked = request.topics.map { $0.map { ($0.name, $0.partitionIndexes) } }
            response.topics = committed(request.groupId, asked).map { name, partitions in
                var topic = OffsetFetchResponse.OffsetFetchResponseTopic()
                topic.name = name
                topic.partitions = partitions.map { index, commit in
                    var partition = OffsetFetchResponse.OffsetFetchResponsePartition()
                    partition.partitionIndex = index
                    partition.committedOffset = commit?.offset ?? -1
                    partition.metadata = commit?.metadata ?? ""
                    return partition
                }
                return topic
            }
        }
        return response
    }

    /// The committed offsets of `group` for the partitions asked (nil: every committed one).
    private func committed(_ group: String, _ asked: [(String, [Int32])]?) -> [(String, [(Int32, CommittedOffset?)])] {
        let offsets = store.committedOffsets(group: group)
        guard let asked else {
            let byTopic = Dictionary(grouping: offsets, by: { $0.key.topic })
            return byTopic.keys.sorted().map { name in
                (
                    name,
                    byTopic[name, default: []].sorted { $0.key.partition < $1.key.partition }.map { (Int32($0.key.partition), $0.value) }
                )
            }
        }
        return asked.map { name, indexes in (name, indexes.map { ($0, offsets[TopicPartition(name, Int($0))]) }) }
    }

    /// ListGroups: groups with members here, and groups known by their committed offsets (Empty).
    func listGroups(_ request: ListGroupsRequest, version: Int16) -> ListGroupsResponse {
        var response = ListGroupsResponse()
        var listed: [String: ListGroupsResponse.ListedGroup] = [:]
        for name in store.consumerGroups {
            var entry = ListGroupsResponse.ListedGroup()
            entry.groupId = name
            entry.protocolType = "consumer"
            entry.groupState = "Empty"
            entry.groupType = "classic"
            listed[name] = entry
        }
        for id in groups.groupIds {
            guard let group = groups.group(id) else { continue }
            var entry = ListGroupsResponse.ListedGroup()
            entry.groupId = id
            entry.protocolType = group.protocolType ?? ""
            entry.groupState = group.state.rawValue
            entry.groupType = "classic"
            listed[id] = entry
        }
        let states = Set(request.statesFilter.map { $0.lowercased() })
        let types = Set(request.typesFilter.map { $0.lowercased() })
        response.groups = listed.keys.sorted().compactMap { listed[$0] }.filter { group in
            let stateMatches = states.isEmpty || states.contains(group.groupState.lowercased())
            return stateMatches && (types.isEmpty || types.contains(group.groupType.lowercased()))
        }
        return response
    }

    /// DescribeGroups: state, protocol and members of groups here; an unknown group is Dead.
    func describeGroups(_ request: DescribeGroupsRequest) -> DescribeGroupsResponse {
        var response = DescribeGroupsResponse()
        let known = Set(store.consumerGroups)
        response.groups = request.groups.map { id in
            var described = DescribeGroupsResponse.DescribedGroup()
            described.groupId = id
            if let group = groups.group(id) {
                described.groupState = group.state.rawValue
                described.protocolType = group.protocolType ?? ""
                described.protocolData = group.protocolName ?? ""
                described.members = group.members.map { member in
                    var entry = DescribeGroupsResponse.DescribedGroupMember()
                    entry.memberId = member.id
                    entry.groupInstanceId = member.instanceId
                    entry.clientId = member.clientId
                    entry.clientHost = member.clientHost
                    entry.memberMetadata = member.metadata(for: group.protocolName)
                    entry.memberAssignment = member.assignment
                    return entry
                }
            } else {
                described.groupState = known.contains(id) ? "Empty" : "Dead"
                described.protocolType = known.contains(id) ? "consumer" : ""
            }
            return described
        }
        return response
    }

    /// DeleteGroups: a group's committed offsets go, when it has no live members.
    func deleteGroups(_ request: DeleteGroupsRequest) -> DeleteGroupsResponse {
        var response = DeleteGroupsResponse()
        response.results = request.groupsNames.map { id in
            var result = DeleteGroupsResponse.DeletableGroupResult()
            result.groupId = id
            if groups.group(id) != nil {
                result.errorCode = KafkaErrorCode.nonEmptyGroup.rawValue
            } else if !store.consumerGroups.contains(id) {
                result.errorCode = KafkaErrorCode.groupIdNotFound.rawValue
            } else {
                do throws(ReservoirError) {
                    try store.deleteGroup(id)
                } catch {
                    result.errorCode = (error.code == .invalidArgument ? KafkaErrorCode.nonEmptyGroup : KafkaErrorCode(error)).rawValue
                }
            }
            return result
        }
        return response
    }
}
