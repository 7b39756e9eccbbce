import FBSchema
import Foundation
import Testing

@testable import FlowOrchestrator

/// True for a copyable type: the constrained overload is the more specific one.
private func isCopyable<T>(_: T.Type) -> Bool { true }
/// False for a type only this overload accepts (a `~Copyable` one).
private func isCopyable<T: ~Copyable>(_: T.Type) -> Bool { false }

/// An encoder's output is owned by one ``FBSBuffer`` that frees it exactly once.
@Suite("FBSBuffer ownership")
struct FBSBufferTests {
    @Test("FBSBuffer is ~Copyable, so a second free (or a use after free) does not compile")
    func noncopyable() {
        #expect(isCopyable(Int.self), "the probe tells copyable types apart")
        #expect(!isCopyable(FBSBuffer.self))
    }

    @Test("an encoded journal batch lends its bytes and frees them when consumed or dropped")
    func lendsBytes() throws {
        let events = [WorkflowEvent(sequence: 1, time: .nowMicroseconds(), change: .dataSet(key: "k", value: Data([1, 2])))]
        let frames = try JournalCodec.encode(events)
        let count = frames.count
        #expect(count > 0 && count % 8 == 0)
        let copied = frames.withBytes { Array($0) }
        #expect(copied == frames.array)
        frames.free()
        // Dropped without an explicit free: deinit frees it (AddressSanitizer and LeakSanitizer
        // runs of the fuzz harnesses would report a leak or a double free).
        let scan = try JournalCodec.encode(events).withBytes { bytes in
            let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
            defer { aligned.deallocate() }
            aligned.copyMemory(from: bytes)
            return JournalCodec.scanFrames(UnsafeRawBufferPointer(aligned), from: 0)
        }
        #expect(scan.events == events)
    }
}
