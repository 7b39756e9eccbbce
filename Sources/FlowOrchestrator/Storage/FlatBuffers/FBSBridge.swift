import FBSchema
import Foundation

/// Strings and blobs gathered into one byte array, addressed by `fbs_slice`s, so that a whole
/// snapshot or batch of records crosses into C in one call.
struct Arena {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func add(_ string: String) -> fbs_slice {
        let offset = bytes.count
        var string = string
        string.withUTF8 { bytes.append(contentsOf: $0) }
        return fbs_slice(offset: UInt64(offset), length: UInt64(bytes.count - offset))
    }

    mutating func add(_ string: String?) -> fbs_slice {
        guard let string else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        return add(string)
    }

    mutating func add(_ data: Data?) -> fbs_slice {
        guard let data else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        let offset = bytes.count
        data.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return fbs_slice(offset: UInt64(offset), length: UInt64(data.count))
    }
}

/// An arena in memory sized beforehand: each `add` copies its bytes at the next offset. Slices
/// are offsets from the start of the memory, whatever offset writing started at.
struct RawArena {
    private let memory: UnsafeMutableRawBufferPointer
    private var offset: Int

    init(_ memory: UnsafeMutableRawBufferPointer, at offset: Int) {
        self.memory = memory
        self.offset = offset
    }

    private mutating func copy(_ bytes: UnsafeRawBufferPointer) -> fbs_slice {
        let start = offset
        precondition(bytes.count <= memory.count - start, "RawArena: more bytes than it was sized for")
        if let source = bytes.baseAddress, !bytes.isEmpty {
            (memory.baseAddress! + start).copyMemory(from: source, byteCount: bytes.count)
        }
        offset += bytes.count
        return fbs_slice(offset: UInt64(start), length: UInt64(bytes.count))
    }

    mutating func add(_ string: String) -> fbs_slice {
        if let slice = string.utf8.withContiguousStorageIfAvailable({ copy(UnsafeRawBufferPointer($0)) }) {
            return slice
        }
        return Array(string.utf8).withUnsafeBytes { copy($0) }
    }

    mutating func add(_ string: String?) -> fbs_slice {
        guard let string else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        return add(string)
    }

    mutating func add(_ data: Data?) -> fbs_slice {
        guard let data else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        return data.withUnsafeBytes { copy($0) }
    }

    /// Bytes, or absent for nil.
    mutating func add(_ bytes: UnsafeRawBufferPointer?) -> fbs_slice {
        guard let bytes else { return fbs_slice(offset: 0, length: FBS_ABSENT) }
        return copy(bytes)
    }
}

/// An encoder's result, which owns its bytes (unless they live in the caller's scratch memory)
/// and frees them exactly once: when ``free()`` consumes it, or else when it goes out of scope.
/// Being `~Copyable`, it cannot be freed twice or used after it was freed; its bytes are lent to
/// a closure (``withBytes(_:)``), never handed out to outlive it.
struct FBSBuffer: ~Copyable {
    private let buffer: fbs_buffer

    /// Takes ownership of `buffer`, an encoder's output.
    init(_ buffer: fbs_buffer) { self.buffer = buffer }

    /// The number of bytes.
    var count: Int { buffer.size }

    /// Runs `body` with the bytes, valid until it returns.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: buffer.data, count: buffer.size))
    }

    /// The bytes, copied out.
    var array: [UInt8] { withBytes { Array($0) } }

    /// Frees the bytes now (`fbs_buffer_free`).
    consuming func free() {
        var owned = buffer
        fbs_buffer_free(&owned)
        discard self
    }

    deinit {
        var owned = buffer
        fbs_buffer_free(&owned)
    }
}

extension fbs_view {
    /// The view as a string; nil when absent. Verified buffers hold valid UTF-8.
    var string: String? {
        guard let start = self.data else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: length), as: UTF8.self)
    }

    /// The view as bytes; nil when absent.
    var bytes: Data? {
        guard let start = self.data else { return nil }
        return Data(bytes: start, count: length)
    }
}

extension fbs_error {
    /// The message, with the byte offset when the C side knows it.
    var text: String {
        var message = withUnsafeBytes(of: self.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if offset != FBS_NO_OFFSET { message += " at offset \(offset)" }
        if index != FBS_NO_INDEX { message += " (item \(index))" }
        return message
    }
}

enum FBSErrors {
    /// The ``FlowError`` for a failed check of the file at `path`.
    static func flowError(_ error: fbs_error, path: String) -> FlowError {
        switch error.code {
        case FBS_ERR_UNSUPPORTED_VERSION:
            return FlowError(.unsupportedFormat, "\(path): \(error.text)")
        case FBS_ERR_BAD_ENUM:
            // Statuses and kinds are only ever appended: a value past the ones this version
            // knows was written by a newer version, not damaged.
            return FlowError(.newerFormat, "\(path): \(error.text) (written by a newer version?)")
        default:
            return FlowError(.corruptData, "\(path): \(error.text)")
        }
    }
}
