import Foundation

extension Date {
    /// Microseconds since 1970, the unit every stored time uses.
    var microsecondsSince1970: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded())
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
