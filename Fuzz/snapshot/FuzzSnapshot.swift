// libFuzzer target: loading a workflow's stored files.
//
// The first input byte chooses what the rest of the input is (byte % 4):
//   0  the bytes of snapshot.fb.zst, as found on disk
//   1  a raw Snapshot FlatBuffer, which the harness compresses into a valid zstd frame first (so
//      mutations reach the FlatBuffers checks instead of dying in the frame checksum)
//   2  the bytes of summary.fb, next to a valid snapshot (listing reads summaries)
//   3  the bytes of a JSONFileStore state.json
// and the store is driven through its public calls: load, list, verify.
//
// Findings (abort): a crash or sanitizer report; an error other than a FlowError saying the data
// is bad; load and verify disagreeing on whether the workflow is sound; a loaded state that does
// not survive being saved and loaded again unchanged; a listing that differs from the state.
import FBSchema
import Foundation

@testable import FlowOrchestrator

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 4 {
    case 0: SnapshotHarness.loadFlatBuffers(snapshotFile: body)
    case 1: SnapshotHarness.loadFlatBuffers(snapshotFile: SnapshotHarness.compressed(body))
    case 2: SnapshotHarness.list(summaryFile: body)
    default: SnapshotHarness.loadJSON(stateFile: body)
    }
    return 0
}

enum SnapshotHarness {
    /// `raw` in a checksummed zstd frame, as the store writes it.
    static func compressed(_ raw: [UInt8]) -> [UInt8] {
        (try? raw.withUnsafeBytes { try Zstd.compress($0, level: 1, threads: 1, scratch: ScratchPool()) }) ?? []
    }

    /// A valid snapshot file of the fixture, made once.
    static let validSnapshot: [UInt8] = {
        let (bytes, _) = try! FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 20)
            .encode(Fixture.state())
        return bytes
    }()

    static func loadFlatBuffers(snapshotFile: [UInt8]) {
        let root = Scratch.root("store", files: [("\(Fixture.directory)/snapshot.fb.zst", snapshotFile)])
        check(name: "snapshot.fb.zst") { try FlatBuffersStore(directory: root, options: Fixture.options()) }
    }

    static func loadJSON(stateFile: [UInt8]) {
        let root = Scratch.root("store", files: [("\(Fixture.directory)/state.json", stateFile)])
        check(name: "state.json") { try JSONFileStore(directory: root) }
    }

    /// Loads, lists and verifies the fixture's workflow in the store `open` makes, and checks
    /// the answers against each other.
    static func check(name: String, open: @escaping @Sendable () throws -> any FileWorkflowStore) {
        let descriptors = Scratch.openDescriptors
        let store: any FileWorkflowStore
        do { store = try open() } catch { finding("opening a store failed: \(error)") }
        var loaded: WorkflowState?
        do {
            loaded = try blocking { try await store.load(Fixture.key) }
        } catch {
            _ = expectDataError(error, "load of \(name)")
        }
        let problems: [StoreProblem]
        let page: WorkflowPage
        do {
            problems = try blocking { try await store.verify() }
            page = try blocking { try await store.list(WorkflowQuery()) }
        } catch {
            finding("verify or list threw on a damaged \(name): \(error)")
        }
        if Scratch.openDescriptors != descriptors { finding("file descriptors leaked reading \(name)") }
        guard let state = loaded else {
            if problems.isEmpty { finding("load refused \(name) but verify reports no problem") }
            if !page.items.isEmpty { finding("load refused \(name) but list shows it: \(page.items)") }
            return
        }
        if !problems.isEmpty { finding("load accepted \(name) but verify reports \(problems)") }
        guard page.items.count == 1, let summary = page.items.first else {
            finding("load accepted \(name) but list shows \(page.items)")
        }
        let expected = WorkflowSummary(state, storedBytes: summary.storedBytes)
        if summary != expected { finding("list says \(summary), the state says \(expected)") }
        roundTrip(state, name: name, alsoJSON: name == "snapshot.fb.zst", alsoFlatBuffers: name != "state.json")
    }

    /// What was loaded must be saved and loaded again unchanged by the store it came from; a
    /// state the FlatBuffers store accepted must also survive the JSON store. (Not the other way
    /// round: JSON keeps times as doubles, the binary format in whole microseconds.)
    static func roundTrip(_ state: WorkflowState, name: String, alsoJSON: Bool, alsoFlatBuffers: Bool) {
        var stores: [@Sendable (String) throws -> any FileWorkflowStore] = []
        if alsoFlatBuffers {
            stores.append { try FlatBuffersStore(directory: $0, options: Fixture.options()) }
        }
        if alsoJSON || !alsoFlatBuffers {
            stores.append { try JSONFileStore(directory: $0) }
        }
        for makeStore in stores {
            do {
                let store = try makeStore(Scratch.root("round-trip"))
                let again = try blocking {
                    try await store.withWriter(Fixture.key) { try await $0.save(state, durability: .fsync) }
                    return try await store.load(Fixture.key)
                }
                if again != state {
                    finding("\(name): a loaded state changed when saved and loaded by \(type(of: store)):\n\(difference(state, again))")
                }
            } catch {
                finding("\(name): a loaded state cannot be saved and loaded again: \(error)")
            }
        }
    }

    static func list(summaryFile: [UInt8]) {
        let root = Scratch.root(
            "store",
            files: [
                ("\(Fixture.directory)/snapshot.fb.zst", validSnapshot), ("\(Fixture.directory)/summary.fb", summaryFile),
            ])
        let store: FlatBuffersStore
        do {
            store = try FlatBuffersStore(directory: root, options: Fixture.options())
        } catch {
            finding("opening a store failed: \(error)")
        }
        let state = Fixture.state()
        var listed: WorkflowSummary?
        do {
            let buffer = AlignedBuffer(count: summaryFile.count)
            summaryFile.withUnsafeBytes { buffer.mutableBytes.copyMemory(from: $0) }
            listed = try FlatBuffersSnapshotFormat(compressionLevel: 1, maxSnapshotBytes: 1 << 20)
                .decodeSummary(buffer, path: "summary.fb")
        } catch {
            _ = expectDataError(error, "decoding summary.fb")
        }
        do {
            let page = try blocking { try await store.list(WorkflowQuery()) }
            let problems = try blocking { try await store.verify() }
            if page.items.count != 1 { finding("list of one workflow returned \(page.items.count)") }
            // An unreadable summary is a problem for verify; a readable one is not.
            if (listed == nil) == problems.isEmpty {
                finding("summary.fb readable: \(listed != nil), but verify says \(problems)")
            }
            // A summary is a cache: an unreadable one, or one naming another workflow, gives way
            // to the snapshot.
            if let listed, listed.id == Fixture.key.id, listed.tenant == Fixture.key.tenant {
                if page.items.first != listed { finding("list shows \(page.items), the summary says \(listed)") }
            } else if page.items.first != WorkflowSummary(state, storedBytes: validSnapshot.count) {
                finding("fallback to the snapshot listed \(page.items) for \(state)")
            }
        } catch {
            finding("list or verify threw with a damaged summary.fb: \(error)")
        }
    }
}
