import Foundation

/// A JSON value written with its keys in the order given, so that output matches the documented
/// shape exactly (Foundation's encoder does not promise an order).
indirect enum JSONText {
    case string(String)
    case number(Int)
    case bool(Bool)
    case null
    case array([JSONText])
    case object([(String, JSONText)])

    /// `value` as a string, or null.
    static func string(_ value: String?) -> JSONText { value.map { .string($0) } ?? .null }

    /// `date` in ISO 8601, or null.
    static func date(_ date: Date?) -> JSONText { date.map { .string(TextFormat.iso8601($0)) } ?? .null }

    /// The value as text; `indent` pretty-prints with two spaces per level.
    func render(indent: Bool = true) -> String {
        var out = ""
        write(to: &out, level: 0, indent: indent)
        return out
    }

    private func write(to out: inout String, level: Int, indent: Bool) {
        let newline = indent ? "\n" + String(repeating: "  ", count: level + 1) : ""
        let closing = indent ? "\n" + String(repeating: "  ", count: level) : ""
        switch self {
        case .string(let text): Self.escape(text, into: &out)
        case .number(let number): out += String(number)
        case .bool(let flag): out += flag ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            guard !items.isEmpty else { return out += "[]" }
            out += "["
            for (index, item) in items.enumerated() {
                out += (index == 0 ? "" : ",") + newline
                item.write(to: &out, level: level + 1, indent: indent)
            }
            out += closing + "]"
        case .object(let fields):
            guard !fields.isEmpty else { return out += "{}" }
            out += "{"
            for (index, (key, value)) in fields.enumerated() {
                out += (index == 0 ? "" : ",") + newline
                Self.escape(key, into: &out)
                out += indent ? ": " : ":"
                value.write(to: &out, level: level + 1, indent: indent)
            }
            out += closing + "}"
        }
    }

    private static func escape(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
