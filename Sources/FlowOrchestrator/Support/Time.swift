import Foundation

extension Date {
    /// Microseconds since 1970, the unit every stored time uses.
    /// Saturates at the ends of `Int64` (dates some 292,000 years away), so a damaged time read
    /// from disk can never trap when it is written again.
    var microsecondsSince1970: Int64 {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        if micros.isNaN { return 0 }
        // Exactly at the ends of Int64: -2^63 converts, 2^63 does not. A looser bound (9.2e18)
        // would move representable times to the ends, changing a state when it is saved again.
        if micros >= 9_223_372_036_854_775_808.0 { return .max }
        if micros < -9_223_372_036_854_775_808.0 { return .min }
        return Int64(micros)
    }

    /// The date `micros` microseconds after 1970.
    init(microsecondsSince1970 micros: Int64) {
        self.init(timeIntervalSince1970: Double(micros) / 1_000_000)
    }

    /// Now, rounded to whole microseconds so it survives every store unchanged.
    static func nowMicroseconds() -> Date {
        Date(microsecondsSince1970: Date().microsecondsSince1970)
    }
}

extension Date {
    /// The time in RFC 3339 / ISO 8601, UTC, with the microseconds stored times carry:
    /// `2026-01-31T12:00:01.250113Z`.
    package var rfc3339Microseconds: String {
        let micros = microsecondsSince1970
        let split = micros.quotientAndRemainder(dividingBy: 1_000_000)
        var seconds = time_t(split.quotient)
        var fraction = split.remainder
        if fraction < 0 {
            seconds -= 1
            fraction += 1_000_000
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(Int(parts.tm_year) + 1900, 4))-\(padded(Int(parts.tm_mon) + 1, 2))-\(padded(Int(parts.tm_mday), 2))"
            + "T\(padded(Int(parts.tm_hour), 2)):\(padded(Int(parts.tm_min), 2)):\(padded(Int(parts.tm_sec), 2))"
            + ".\(padded(Int(fraction), 6))Z"
    }
}
