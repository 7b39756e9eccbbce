import FlowOrchestrator
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows a run's progress on stdout, fed by the executor's events.
///
/// - `plain` (stdout is not a terminal): one line per status change, as it happens.
/// - `live` (a terminal): a bar, counts, the running nodes and the elapsed time, redrawn at most
///   ten times a second by ``drive()``; failures and retries also get a permanent line.
/// - `quiet`: nothing until the final line.
///
/// ``handle(_:)`` is called by the executor while it holds its own lock, so it only updates the
/// model (and, in plain mode, writes one line).
final class Progress: Sendable {
    enum Mode: Sendable {
        case plain, live, quiet

        /// `quiet` when asked, else `live` on a terminal and `plain` otherwise.
        static func choose(quiet: Bool) -> Mode {
            if quiet { return .quiet }
            return isatty(1) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb" ? .live : .plain
        }
    }

    private struct Model {
        var statuses: [String: NodeStatus]
        var order: [String]
        var started: [String: Date] = [:]
        var running: [String] = []
        var dirty = true
        var drawnLines = 0
    }

    let mode: Mode
    private let workflow: String
    private let startedAt = ContinuousClock.now
    private let model: Mutex<Model>

    /// A display for `workflow`, whose nodes start in the statuses `initial` holds.
    init(mode: Mode, workflow: String, initial: [NodeState]) {
        self.mode = mode
        self.workflow = workflow
        var statuses: [String: NodeStatus] = [:]
        for node in initial { statuses[node.name] = node.status == .completed ? .completed : .pending }
        model = Mutex(Model(statuses: statuses, order: initial.map(\.name)))
    }

    // MARK: Events

    /// Records `event`; in plain mode prints its line.
    func handle(_ event: WorkflowEvent) {
        // Quiet mode shows only the final line, made from the run's result: no model to keep.
        guard mode != .quiet, let node = event.node else { return }
        let line: String? = model.withLock { model in
            model.dirty = true
            switch event.change {
            case .nodeStarted(_, let attempt):
                model.statuses[node] = .running
                model.started[node] = event.time
                if !model.running.contains(node) { model.running.append(node) }
                return mode == .plain ? "\(node) started (attempt \(attempt))" : nil
            case .nodeCompleted, .nodeMarkedCompleted:
                model.statuses[node] = .completed
                model.running.removeAll { $0 == node }
                let took = model.started[node].map { " in " + DurationText.format(.seconds(event.time.timeIntervalSince($0))) } ?? ""
                return mode == .plain ? "\(node) completed\(took)" : nil
            case .nodeFailed(_, _, let error):
                model.statuses[node] = .failed
                model.running.removeAll { $0 == node }
                return mode == .quiet ? nil : "\(node) failed: \(TextFormat.oneLine(error))"
            case .nodeRetried(_, let attempt, let delay, let error):
                model.running.removeAll { $0 == node }
                let wait = DurationText.format(delay)
                return mode == .quiet
                    ? nil
                    : "\(node) attempt \(attempt) failed, retrying in \(wait): \(TextFormat.oneLine(error))"
            case .nodeSkipped(_, let reason):
                model.statuses[node] = .skipped
                return mode == .plain ? "\(node) skipped: \(reason)" : nil
            case .nodeCancelled:
                model.statuses[node] = .cancelled
                model.running.removeAll { $0 == node }
                return mode == .plain ? "\(node) cancelled" : nil
            case .nodeInterrupted, .nodeCrashed:
                model.statuses[node] = .interrupted
                model.running.removeAll { $0 == node }
                return mode == .plain ? "\(node) \(event.kind == .nodeCrashed ? "found cut short by a crash" : "interrupted")" : nil
            case .nodeReset:
                model.statuses[node] = .pending
                return nil
            default:
                return nil
            }
        }
        guard let line else { return }
        let stamped = TextFormat.clock(event.time) + " " + line
        if mode == .live {
            model.withLock { model in
                Terminal.out(clearBlock(&model) + stamped + "\n")
            }
        } else {
            Terminal.out(stamped + "\n")
        }
    }

    // MARK: The live display

    /// Redraws the live display until the calling task is cancelled; returns at once in other modes.
    func drive() async {
        guard mode == .live else { return }
        var lastDraw = ContinuousClock.now - .seconds(1)
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let due = now - lastDraw >= .seconds(1)
            let drawn = model.withLock { model in
                guard model.dirty || due else { return false }
                model.dirty = false
                Terminal.out(clearBlock(&model) + block(&model))
                return true
            }
            if drawn { lastDraw = now }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Removes the live block, then prints `line` (the run's final line).
    func finish(_ line: String) {
        model.withLock { model in
            Terminal.out((mode == .live ? clearBlock(&model) : "") + line + "\n")
        }
    }

    /// Runs `body`; if it throws, erases the live block first so that the error line stands alone.
    func clearingOnError<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            model.withLock { model in Terminal.out(clearBlock(&model)) }
            throw error
        }
    }

    /// The escape codes that erase the block drawn last.
    private func clearBlock(_ model: inout Model) -> String {
        guard model.drawnLines > 0 else { return "" }
        let lines = model.drawnLines
        model.drawnLines = 0
        return "\r\u{1B}[2K" + String(repeating: "\u{1B}[1A\u{1B}[2K", count: lines - 1)
    }

    /// The live block: a bar with counts, then the running nodes. Leaves the cursor at the end of
    /// the last line.
    private func block(_ model: inout Model) -> String {
        let width = max(40, Terminal.columns())
        let total = model.order.count
        var counts: [NodeStatus: Int] = [:]
        for status in model.statuses.values { counts[status, default: 0] += 1 }
        let done = counts[.completed] ?? 0
        let barWidth = 20
        let filled = total == 0 ? barWidth : done * barWidth / total
        var summary = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
            + "] \(done)/\(total) done"
        if let failed = counts[.failed] { summary += ", \(failed) failed" }
        if let skipped = counts[.skipped] { summary += ", \(skipped) skipped" }
        summary += ", " + Self.elapsed(ContinuousClock.now - startedAt)
        var running = "running: "
        running += model.running.isEmpty ? "-" : model.running.joined(separator: ", ")
        let lines = [summary, running].map { String($0.prefix(width - 1)) }
        model.drawnLines = lines.count
        return lines.joined(separator: "\n")
    }

    /// The final line of a run.
    func summary(_ state: WorkflowState, interrupted: Bool) -> String {
        let status = interrupted && state.status != .completed ? "interrupted (\(state.status))" : "\(state.status)"
        return "workflow \(workflow) \(status): \(StatusReport.counts(state)) in "
            + DurationText.format(ContinuousClock.now - startedAt)
    }

    private static func elapsed(_ duration: Duration) -> String {
        let seconds = Int(duration.secondsValue)
        let text = "\(seconds / 60):" + (seconds % 60 < 10 ? "0" : "") + "\(seconds % 60)"
        return text + " elapsed"
    }
}

/// Writes to stdout without buffering surprises.
enum Terminal {
    /// Writes `text` to stdout in one call (retrying short writes).
    static func out(_ text: String) {
        out(bytes: Array(text.utf8))
    }

    /// Writes `bytes` to stdout as they are.
    static func out<Bytes: Collection<UInt8>>(bytes: Bytes) {
        var bytes = Array(bytes)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Writes `text` and a newline to stderr.
    static func error(_ text: String) {
        let line = Array((text + "\n").utf8)
        line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// The terminal's width, or 80 when it cannot be told.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
