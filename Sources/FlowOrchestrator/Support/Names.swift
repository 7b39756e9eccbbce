/// The naming rules shared by node names, workflow IDs and tenant IDs.
///
/// Names end up as path components and log file names, so a valid name can never name a path
/// outside its directory: it is 1 to 200 bytes of UTF-8, holds no `/`, `\`, NUL or other control
/// character, and does not start with a dot (which also rules out `.` and `..`). Unicode letters
/// are welcome.
package enum Names {
    /// The longest name, in UTF-8 bytes.
    package static let maxBytes = 200

    /// Why `name` breaks the rules, or nil when it is valid.
    package static func problem(with name: String) -> String? {
        let utf8 = name.utf8
        if utf8.isEmpty { return "is empty" }
        if utf8.count > maxBytes { return "is \(utf8.count) bytes long, over the limit of \(maxBytes)" }
        if utf8.first == UInt8(ascii: ".") { return "starts with a dot" }
        for byte in utf8 {
            if byte < 0x20 || byte == 0x7F { return "holds a control character" }
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") { return "holds a path separator" }
        }
        return nil
    }

    /// Whether `name` follows the rules; the fast path of ``problem(with:)``.
    static func isValid(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isValid(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Whether the UTF-8 bytes of a name follow the rules.
    static func isValid(utf8 bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxBytes, bytes[0] != UInt8(ascii: ".") else { return false }
        for byte in bytes where byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
            return false
        }
        return true
    }

    /// Throws `code` naming `what` when `name` breaks the rules.
    static func validate(_ name: String, as what: String, code: FlowError.Code) throws(FlowError) {
        if let problem = problem(with: name) {
            throw FlowError(code, "\(what) \(quoted(name)) \(problem)")
        }
    }

    /// A name in quotes with control characters escaped, safe for one-line messages.
    static func quoted(_ name: String) -> String {
        var out = "\""
        for scalar in name.unicodeScalars.prefix(Self.maxBytes + 16) {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
