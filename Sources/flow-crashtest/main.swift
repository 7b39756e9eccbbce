// flow-crashtest: runs one durable workflow whose nodes leave real side effects, for the crash
// tests (tests kill it with SIGKILL at random moments and check the store afterwards).
//
//   flow-crashtest STORE WORKFLOW_ID MARKER_FILE NODES [WIDTH] [SEED] [NODE_SLEEP_US]
//
// The DAG has NODES nodes in levels of WIDTH; node i needs node i-WIDTH. Each node appends its
// name to MARKER_FILE (O_APPEND, fsync) before returning its name as output, so the marker file
// counts executions. Persistence: every status change, fsync durability. Prints the final
// status and exits 0 (completed), 1 (other status) or 3 (error).
import FlowOrchestrator
import Foundation

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 5, let nodeCount = Int(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: flow-crashtest STORE ID MARKER NODES [WIDTH] [SEED]\n".utf8))
    exit(2)
}
let storePath = arguments[1]
let workflowID = arguments[2]
let markerPath = arguments[3]
let width = arguments.count > 5 ? max(1, Int(arguments[5]) ?? 4) : 4
let seed = arguments.count > 6 ? UInt64(arguments[6]) ?? 1 : 1
let fixedSleep = arguments.count > 7 ? UInt32(arguments[7]) : nil

/// Appends one line to the marker file and syncs it: the node's side effect.
@Sendable func mark(_ line: String) throws {
    let fd = open(markerPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { throw FlowError(.io, "cannot open \(markerPath)") }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
        throw FlowError(.io, "cannot write \(markerPath)")
    }
}

/// FLOW_CRASHTEST_SELFKILL=N: the workflow is one node, "poison", with N attempts, whose every
/// attempt marks the file and then kills this process with SIGKILL (the recovery tests).
let selfKillAttempts = ProcessInfo.processInfo.environment["FLOW_CRASHTEST_SELFKILL"].flatMap { Int($0) }
/// FLOW_CRASHTEST_RECOVERY_LIMIT: ExecutionOptions.recoveryLimit (default: high enough that
/// the random-kill test, which kills the process many times, never reaches it).
let recoveryLimit = ProcessInfo.processInfo.environment["FLOW_CRASHTEST_RECOVERY_LIMIT"].flatMap { Int($0) } ?? 1_000

var dag = DAG()
if let selfKillAttempts {
    try dag.addNode("poison", retry: RetryPolicy(maxAttempts: selfKillAttempts, initialBackoff: .zero)) { context in
        try mark(context.node)
        kill(getpid(), SIGKILL)
        return .empty
    }
}
for index in 0..<(selfKillAttempts == nil ? nodeCount : 0) {
    let name = "n\(index)"
    let dependencies = index >= width ? ["n\(index - width)"] : []
    // A little work per node, different per node, so kills land everywhere.
    let spin = fixedSleep ?? UInt32((UInt64(index) &* 2_654_435_761 &+ seed) % 3_000)
    // A crash consumes an attempt (the retry budget survives crashes): a budget for the kills.
    try dag.addNode(name, dependsOn: dependencies, retry: RetryPolicy(maxAttempts: 1_000, initialBackoff: .zero)) { context in
        usleep(spin)
        try mark(context.node)
        return .text(context.node)
    }
}

do {
    let store = try FlatBuffersStore(directory: storePath, options: .init(compactAfterRecords: 97))
    let workflow = Workflow(
        id: workflowID, dag: dag, store: store,
        options: ExecutionOptions(
            maxConcurrency: width, scheduling: .dependencies, persistence: .node, durability: .fsync,
            recoveryLimit: recoveryLimit))
    let result = try await workflow.execute()
    print(result.status)
    if let reason = result.state.reason { print(reason) }
    for node in result.state.nodes where node.status == .failed { print("\(node.name): \(node.lastError ?? "")") }
    exit(result.status == .completed ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("flow-crashtest: \(error)\n".utf8))
    exit(3)
}
