/// Durations as people write them in definition files and options: `500ms`, `10s`, `1.5m`, `1h`,
/// `7d`, or several parts in a row (`1h30m`).
enum DurationText {
    /// The duration `text` names, or nil when it is not a well-formed duration.
    static func parse(_ text: String) -> Duration? {
        guard let total = seconds(text), total < limitSeconds else { return nil }
        return .microseconds(Int64((total * 1_000_000).rounded()))
    }

    /// The longest duration accepted, in seconds (some 31,700 years).
    static let limitSeconds = 1e12

    /// Whether `text` is a well-formed duration that is over ``limitSeconds``.
    static func isTooLarge(_ text: String) -> Bool {
        seconds(text).map { $0 >= limitSeconds } ?? false
    }

    /// The seconds `text` names, however many; nil when it is not well formed.
    private static func seconds(_ text: String) -> Double? {
        var total = 0.0
        var rest = Substring(text.trimmingSpaces())
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            guard let unit = units[String(unitText)] else { return nil }
            total += value * unit
        }
        return total.isNaN ? nil : total
    }

    /// Seconds per unit.
    private static let units: [String: Double] = [
        "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400,
    ]

    /// The words used in error messages about a bad duration.
    static let expected = "a number and a unit (ms, s, m, h, d), like 500ms, 10s, 10m or 1h"

    /// A short human form of `duration`: `850ms`, `1.2s`, `3m04s`, `2h05m`.
    static func format(_ duration: Duration) -> String {
        let seconds = duration.secondsValue
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 {
            let tenths = (seconds * 10).rounded() / 10
            return tenths == tenths.rounded() ? "\(Int(tenths))s" : "\(tenths)s"
        }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60)m" + pad2(whole % 60) + "s" }
        return "\(whole / 3600)h" + pad2(whole % 3600 / 60) + "m"
    }

    private static func pad2(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var secondsValue: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return Substring() }
        let end = lastIndex(where: { !isSpace($0) })!
        return Substring(self[start...end])
    }
}
