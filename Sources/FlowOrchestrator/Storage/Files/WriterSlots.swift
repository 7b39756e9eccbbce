#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// How many writers a file store lets hold their lock file open at once. Each writer keeps one
/// descriptor (its `flock`) for as long as it lives; an acquisition past the limit waits, in
/// order, for a writer to be released, so a program that starts 10,000 workflows at once runs
/// them all under `ulimit -n 1024` instead of failing with `Too many open files`.
final class WriterSlots: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state: Mutex<State>
    /// The number of slots.
    let count: Int

    init(count: Int) {
        self.count = max(1, count)
        state = Mutex(State(free: self.count))
    }

    /// A limit that leaves room for everything else under the process's open-file limit: a
    /// quarter of the descriptors still free when the store opens (at least 4, at most 512).
    static func defaultCount() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < 1 << 31 else { return 512 }
        return min(512, max(4, (Int(limit.rlim_cur) - openDescriptors()) / 4))
    }

    /// How many descriptors the process has open (those it inherited included).
    private static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = -1  // the directory's own descriptor
        while readdir(directory) != nil { count += 1 }
        return max(0, count - 2)  // "." and ".."
    }

    /// Takes a slot, waiting for one when none is free.
    func acquire() async {
        let taken = state.withLock { state in
            guard state.free > 0, state.head == state.waiting.count else { return false }
            state.free -= 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { waiter in
            let now = state.withLock { state -> Bool in
                if state.free > 0, state.head == state.waiting.count {
                    state.free -= 1
                    return true
                }
                state.waiting.append(waiter)
                return false
            }
            if now { waiter.resume() }
        }
    }

    /// Gives a slot back, to the longest waiter if there is one.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.head < state.waiting.count else {
                state.free += 1
                return nil
            }
            let waiter = state.waiting[state.head]
            state.head += 1
            if state.head == state.waiting.count {
                state.waiting.removeAll(keepingCapacity: true)
                state.head = 0
            }
            return waiter
        }
        next?.resume()
    }
}
