import Foundation
import Synchronization
import Testing

@testable import FlowOrchestrator

/// A change published while another write is in progress (a completion made while the group
/// commit's leader syncs) is written as soon as that write returns, unsynced: it no longer waits
/// for the next node's start or the 50 ms timer of ADR 4.
@Suite("Publishing during a write")
struct PublishDuringWriteTests {
    private struct Log {
        var pending: [WorkflowEvent] = []
        var last: UInt64 = 0
        var writes: [String] = []
    }

    @Test("a publish asked for during a sync is written when the sync returns, before the commit returns")
    func publishedAfterTheWriteInProgress() async throws {
        let log = Mutex(Log())
        let entered = Gate()
        let release = Gate()
        let persister = Persister(
            durable: 0, describe: "test",
            take: {
                log.withLock { log in
                    defer { log.pending.removeAll() }
                    return (.events(log.pending), log.last)
                }
            },
            write: { batch, sync in
                guard case .events(let events) = batch else { return }
                let first = log.withLock { log in
                    log.writes.append("\(events.map(\.sequence)) \(sync ? "synced" : "unsynced")")
                    return log.writes.count == 1
                }
                if first {
                    entered.open()
                    await release.wait()
                }
            })
        func emit(_ sequence: UInt64) {
            log.withLock { log in
                log.pending.append(
                    WorkflowEvent(
                        sequence: sequence, time: Date(microsecondsSince1970: Int64(sequence)),
                        change: .nodeCompleted(node: "n\(sequence)", output: Data())))
                log.last = sequence
            }
        }
        emit(1)
        let commit = Task { try await persister.commit(upTo: 1) }
        await entered.wait()
        // A completion made while the commit of event 1 is in its write (its sync).
        emit(2)
        await persister.publish(upTo: 2)
        #expect(log.withLock { $0.writes } == ["[1] synced"])
        release.open()
        try await commit.value
        #expect(log.withLock { $0.writes } == ["[1] synced", "[2] unsynced"])
        #expect(persister.durableSequence == 1)
        // The next commit only syncs what was published.
        try await persister.commit(upTo: 2)
        #expect(persister.durableSequence == 2)
        #expect(log.withLock { $0.writes } == ["[1] synced", "[2] unsynced", "[] synced"])
    }
}
