import FlowOrchestrator
import Foundation

/// Small text helpers shared by the commands.
enum TextFormat {
    /// `text` in double quotes with control characters escaped, safe for one-line messages.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars.prefix(256) {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `text` on one line: newlines and tabs become spaces, cut to `limit` characters.
    static func oneLine(_ text: String, limit: Int = 300) -> String {
        var line = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        if line.count > limit { line = String(line.prefix(limit)) + "…" }
        return line
    }

    /// An ISO-8601 UTC time with milliseconds: `2025-01-31T12:00:01.250Z`.
    static func iso8601(_ date: Date) -> String {
        date.formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: TimeZone(identifier: "UTC")!))
    }

    /// An ISO-8601 UTC time with microseconds, the precision of stored times:
    /// `2025-01-31T12:00:01.250113Z`.
    static func iso8601Microseconds(_ date: Date) -> String {
        date.rfc3339Microseconds
    }

    /// The UTC wall-clock time of `date`: `12:00:01` (UTC like every time flowctl prints).
    static func clock(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
        return [parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0]
            .map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":")
    }

    /// A byte count for people: `512 B`, `3.4 KiB`, `12 MiB`.
    static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let shown = value < 10 ? (value * 10).rounded() / 10 : value.rounded()
        return (shown == shown.rounded() ? "\(Int(shown))" : "\(shown)") + " " + units[unit]
    }

    /// Rows of cells as left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: width)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ").trimmingSpaces()
        }.joined(separator: "\n")
    }
}

/// Environment variable names.
enum EnvironmentName {
    /// Whether `name` can be set as an environment variable: letters, digits and `_`, not
    /// starting with a digit.
    static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    /// The variable holding the output of dependency `node`: `FLOW_OUTPUT_` and the name with
    /// every character other than an ASCII letter, digit or `_` replaced by `_`.
    static func output(of node: String) -> String {
        "FLOW_OUTPUT_" + String(node.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (scalar == "_" || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))
                ? Character(scalar) : "_"
        })
    }
}
