import Foundation

extension Date {
    /// Microseconds since 1970, the unit every stored time uses.
    /// Saturates at the ends of `Int64` (dates some 292,000 years away), so a damaged time read
    /// from disk can never trap when it is written again.
    var microsecondsSince1970: Int64 {
        let micros = (timeIntervalSince1970 * 1_000_000).rounded()
        if micros.isNaN { return 0 }
        if micros >= 9.2e18 { return .max }
        if micros <= -9.2e18 { return .min }
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
