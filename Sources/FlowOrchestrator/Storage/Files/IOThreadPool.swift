import Dispatch
import Foundation
import Synchronization

/// A few threads of our own for blocking file work (`pwrite`, `fdatasync`, `rename`, directory
/// scans, zstd), so that none of it runs on Swift's cooperative pool: that pool has one thread
/// per core (two here), and a run waiting for the disk there would stop every timer, timeout
/// and other workflow of the process.
///
/// Every async store call is one line that runs its synchronous twin here
/// (`try await pool.run { try engine.load(key) }`), as swift-nio's `SystemFileHandle` does
/// with `NIOThreadPool`. The threads start on first use and live as long as the process; jobs
/// run in the order they were queued, as many at once as there are threads.
final class IOThreadPool: Sendable {
    /// The pool the file stores share.
    static let shared = IOThreadPool(threads: 8, name: "FlowOrchestrator I/O")

    private typealias Job = @Sendable () -> Void

    /// Queued jobs, first in first out: `jobs[head...]` are waiting.
    private struct Queue {
        var jobs: [Job?] = []
        var head = 0

        mutating func push(_ job: @escaping Job) { jobs.append(job) }

        mutating func pop() -> Job? {
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            jobs[head] = nil
            head += 1
            if head > 1024, head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    private let queue = Mutex(Queue())
    /// Counts queued jobs; a thread takes one count per job it runs.
    private let ready = DispatchSemaphore(value: 0)
    private let started = Mutex(false)
    /// The threads' ids, as they start.
    private let threadIDs = Mutex<Set<UInt>>([])
    private let threadCount: Int
    private let name: String

    init(threads: Int, name: String) {
        threadCount = max(1, threads)
        self.name = name
    }

    /// Runs `work` on one of the pool's threads and returns what it returns (or throws what
    /// it throws). The calling task is suspended meanwhile; cancelling it does not stop `work`,
    /// which finishes what it started (half an I/O call is worse than a late one).
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        startIfNeeded()
        let slot = ResultSlot<T>()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.withLock {
                $0.push({
                    slot.store(Result { try work() })
                    continuation.resume()
                })
            }
            ready.signal()
        }
        return try slot.take().get()
    }

    /// Where a job leaves its result for the task that queued it. The continuation alone orders
    /// the two threads, but when the job finishes before the task has suspended, the runtime
    /// hands over through its own atomics, which ThreadSanitizer does not see: it then reported
    /// the fresh buffer a read returned as a race. A lock around the result is one uncontended
    /// lock per call, and makes the order visible to any checker.
    private final class ResultSlot<T: Sendable>: @unchecked Sendable {
        private let lock = Mutex(())
        private var result: Result<T, any Error>?

        func store(_ value: Result<T, any Error>) {
            lock.withLock { _ in result = value }
        }

        func take() -> Result<T, any Error> {
            lock.withLock { _ in
                guard let value = result else { preconditionFailure("an I/O job resumed its caller without a result") }
                return value
            }
        }
    }

    private func startIfNeeded() {
        let start = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard start else { return }
        for index in 0..<threadCount {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name) \(index)"
            thread.start()
        }
    }

    /// Whether the calling thread is one of this pool's.
    var ownsCurrentThread: Bool {
        let me = UInt(pthread_self())
        return threadIDs.withLock { $0.contains(me) }
    }

    private func loop() {
        _ = threadIDs.withLock { $0.insert(UInt(pthread_self())) }
        while true {
            ready.wait()
            if let job = queue.withLock({ $0.pop() }) { job() }
        }
    }
}
