import Foundation

/// A five-field cron expression in a time zone: `minute hour day-of-month month day-of-week`.
///
/// Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the
/// field's end), or a comma-separated list of those. Months take `JAN`-`DEC` and days of the
/// week `SUN`-`SAT` (any case); day of the week 0 and 7 are both Sunday. `@yearly`
/// (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their
/// usual five fields.
///
/// Days follow Vixie cron's rule: when both day fields are restricted (neither starts with
/// `*`), a day matches when **either** matches (`0 0 1 * MON` runs on the first of the month and
/// on every Monday); when one starts with `*`, only the other restricts.
///
/// Times are wall-clock times in ``timeZone``. Around daylight-saving changes:
/// - a time in a skipped hour (02:30 on the night clocks jump from 02:00 to 03:00) runs once,
///   at the first valid time after it (03:00); several such times run once together;
/// - a time in a repeated hour (01:30 on the night clocks fall back from 02:00 to 01:00) runs
///   once, at its first occurrence.
///
/// The value is pure: it reads no clock and no file.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// One of the five fields, named in errors.
    public enum Field: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case minute, hour
        case dayOfMonth = "day-of-month"
        case month
        case dayOfWeek = "day-of-week"

        public var description: String { rawValue }

        /// The smallest and largest value the field accepts.
        var bounds: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }

        /// The names the field accepts, mapped to their values.
        var names: [String: Int] {
            switch self {
            case .month:
                ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10,
                 "NOV": 11, "DEC": 12]
            case .dayOfWeek: ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
            default: [:]
            }
        }
    }

    /// Why an expression was refused: the field (nil when the expression as a whole is wrong, as
    /// with a wrong number of fields), the offending text and the reason. The `cause` of the
    /// ``FlowError`` (code ``FlowError/Code/invalidArgument``) that ``CronExpression/init(_:timeZone:)`` throws.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The field at fault, or nil for the expression as a whole.
        public var field: Field?
        /// The text at fault: the field's item, or the whole expression.
        public var value: String
        /// What is wrong with it.
        public var reason: String

        public var description: String {
            if let field { return "\(field) field \(Names.quoted(value)): \(reason)" }
            return "\(Names.quoted(value)): \(reason)"
        }
    }

    /// The expression as written.
    public let source: String
    /// The zone whose wall-clock times the fields name.
    public let timeZone: TimeZone

    /// Allowed values as bit sets: bit `v` set when value `v` matches.
    let minutes: UInt64
    let hours: UInt32
    let daysOfMonth: UInt32
    let months: UInt16
    /// Sunday is bit 0 (a 7 in the expression sets bit 0).
    let daysOfWeek: UInt8
    /// The day-of-month field starts with `*`.
    let dayOfMonthStar: Bool
    /// The day-of-week field starts with `*`.
    let dayOfWeekStar: Bool

    /// Parses `text` for wall-clock times in `timeZone` (UTC unless given).
    ///
    /// Throws a ``FlowError`` with code ``FlowError/Code/invalidArgument`` whose `cause` is a
    /// ``ParseError`` naming the field and the value: a wrong number of fields, an unknown
    /// name, a value out of range, a reversed range, a zero step, or a day that never comes
    /// (`0 0 30 FEB *`).
    public init(_ text: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(FlowError) {
        do {
            try self.init(parsing: text, timeZone: timeZone)
        } catch {
            throw FlowError(.invalidArgument, "cron expression \(Names.quoted(text)): \(error)", cause: error)
        }
    }

    private init(parsing text: String, timeZone: TimeZone) throws(ParseError) {
        var fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 1, fields[0].hasPrefix("@") {
            let macros = [
                "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
            ]
            guard let expanded = macros[fields[0].lowercased()] else {
                throw ParseError(field: nil, value: fields[0], reason: "is not one of \(macros.keys.sorted().joined(separator: ", "))")
            }
            fields = expanded.split(separator: " ").map(String.init)
        }
        guard fields.count == 5 else {
            throw ParseError(
                field: nil, value: text,
                reason: "has \(fields.count) field\(fields.count == 1 ? "" : "s"); a cron expression has five: "
                    + "minute hour day-of-month month day-of-week")
        }
        let minute = try Self.parse(fields[0], .minute)
        let hour = try Self.parse(fields[1], .hour)
        let dayOfMonth = try Self.parse(fields[2], .dayOfMonth)
        let month = try Self.parse(fields[3], .month)
        let dayOfWeek = try Self.parse(fields[4], .dayOfWeek)
        source = text
        self.timeZone = timeZone
        minutes = minute
        hours = UInt32(hour)
        daysOfMonth = UInt32(dayOfMonth)
        months = UInt16(month)
        daysOfWeek = UInt8((dayOfWeek & 0x7F) | (dayOfWeek >> 7 & 1))
        dayOfMonthStar = fields[2].hasPrefix("*")
        dayOfWeekStar = fields[4].hasPrefix("*")
        // When the day of the month restricts on its own (the week-day field starts with `*`), some
        // month must have one of its days. (Otherwise a star day-of-month always allows the 1st, and
        // two restricted fields match either, so every expression comes round again.)
        if dayOfWeekStar {
            let occurs = (1...12).contains { month in
                months & (1 << month) != 0
                    && (1...Self.maxDays(month)).contains { daysOfMonth & (1 << $0) != 0 }
            }
            if !occurs {
                throw ParseError(field: .dayOfMonth, value: fields[2], reason: "never occurs in month \(fields[3])")
            }
        }
    }

    /// The bit set of the values `text` allows in `field`.
    private static func parse(_ text: String, _ field: Field) throws(ParseError) -> UInt64 {
        if text.isEmpty { throw ParseError(field: field, value: text, reason: "is empty") }
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            if item.isEmpty { throw ParseError(field: field, value: text, reason: "has an empty list item") }
            var rangeText = item
            var step = 1
            if let slash = item.firstIndex(of: "/") {
                rangeText = String(item[..<slash])
                let stepText = String(item[item.index(after: slash)...])
                guard !stepText.isEmpty, stepText.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(stepText) else {
                    throw ParseError(field: field, value: item, reason: "step \(Names.quoted(stepText)) is not a number")
                }
                guard value > 0 else { throw ParseError(field: field, value: item, reason: "step must be at least 1") }
                guard value <= field.bounds.upperBound else {
                    throw ParseError(
                        field: field, value: item, reason: "step \(value) is larger than the field's range \(range(field))")
                }
                step = value
            }
            let low: Int
            let high: Int
            if rangeText == "*" {
                low = field.bounds.lowerBound
                high = field == .dayOfWeek ? 6 : field.bounds.upperBound
            } else if let dash = rangeText.firstIndex(of: "-") {
                low = try value(String(rangeText[..<dash]), field, item: item)
                high = try value(String(rangeText[rangeText.index(after: dash)...]), field, item: item)
                guard low <= high else {
                    throw ParseError(field: field, value: item, reason: "range starts after it ends")
                }
            } else {
                low = try value(rangeText, field, item: item)
                // `a/n` runs from a to the field's end.
                high = item.contains("/") ? (field == .dayOfWeek ? 6 : field.bounds.upperBound) : low
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        }
        return bits
    }

    private static func range(_ field: Field) -> String { "\(field.bounds.lowerBound)-\(field.bounds.upperBound)" }

    /// One value of `field`: a number in range or one of the field's names.
    private static func value(_ text: String, _ field: Field, item: String) throws(ParseError) -> Int {
        if let named = field.names[text.uppercased()] { return named }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(text) else {
            let names = field.names.isEmpty ? "" : " or a name (\(field.names.sorted { $0.value < $1.value }.map(\.key).joined(separator: ", ")))"
            throw ParseError(
                field: field, value: item, reason: "\(Names.quoted(text)) is not a number\(names)")
        }
        guard field.bounds.contains(number) else {
            throw ParseError(field: field, value: item, reason: "\(number) is out of range \(range(field))")
        }
        return number
    }

    /// The longest a month gets (February: 29).
    static func maxDays(_ month: Int) -> Int {
        switch month {
        case 2: 29
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String { "\(source) (\(timeZone.identifier))" }

    public static func == (a: CronExpression, b: CronExpression) -> Bool {
        a.source == b.source && a.timeZone.identifier == b.timeZone.identifier
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(timeZone.identifier)
    }

    // MARK: - Matching

    /// Whether the civil day matches both day rules.
    func matchesDay(_ day: CivilDay) -> Bool {
        guard months & (1 << UInt16(day.month)) != 0 else { return false }
        let dom = daysOfMonth & (1 << UInt32(day.day)) != 0
        let dow = daysOfWeek & (1 << UInt8(day.weekday)) != 0
        if dayOfMonthStar || dayOfWeekStar { return dom && dow }
        return dom || dow
    }

    /// The first slot strictly after `date`, or nil when none ever comes (the parser refuses days
    /// that never occur, so nil is for a week day that never falls on the only allowed date,
    /// which the Gregorian calendar does not have).
    public func next(after date: Date) -> Date? {
        let after = date.timeIntervalSince1970
        // Start from the wall-clock minute of `date`; the minute itself can still be a later
        // instant (the second pass of a repeated hour), so candidates are compared as instants.
        let floorSeconds = Int64((after).rounded(.down))
        let local = floorSeconds + Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(floorSeconds))))
        // Back off three hours of wall-clock time: a slot in a skipped hour before `date`'s wall
        // clock reading can map to the end of the gap, after `date`.
        let startMinute = local.floorDiv(60) - 180
        var day = CivilDay(daysSinceEpoch: startMinute.floorDiv(1440))
        var firstMinuteOfDay = Int(startMinute - day.daysSinceEpoch * 1440)
        // 400 years: the Gregorian calendar's whole cycle of dates and week days.
        let lastDay = day.daysSinceEpoch + 146_097
        while day.daysSinceEpoch <= lastDay {
            if matchesDay(day) {
                for hour in 0..<24 where hours & (1 << UInt32(hour)) != 0 {
                    if (hour + 1) * 60 <= firstMinuteOfDay { continue }
                    for minute in 0..<60 where minutes & (1 << UInt64(minute)) != 0 {
                        let minuteOfDay = hour * 60 + minute
                        if minuteOfDay < firstMinuteOfDay { continue }
                        let civil = day.daysSinceEpoch * 86_400 + Int64(minuteOfDay) * 60
                        let instant = Self.instant(ofCivil: civil, in: timeZone)
                        if Double(instant) > after { return Date(timeIntervalSince1970: Double(instant)) }
                    }
                }
            }
            firstMinuteOfDay = 0
            day = day.advanced(skippingMonthsNotIn: months)
        }
        return nil
    }

    /// The instant of a wall-clock time (seconds since 1970 as if the zone were UTC) in `zone`: its
    /// first occurrence in a repeated hour; in a skipped hour, the end of the gap.
    static func instant(ofCivil civil: Int64, in zone: TimeZone) -> Int64 {
        func offset(_ instant: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
        }
        let before = offset(civil - 86_400 * 2)
        let after = offset(civil + 86_400 * 2)
        var valid: [Int64] = []
        for candidate in Set([before, after, offset(civil)]) {
            let instant = civil - candidate
            if offset(instant) == candidate { valid.append(instant) }
        }
        if let first = valid.min() { return first }
        // A gap: the wall-clock time does not exist. The end of the gap is the first instant whose
        // offset is the later one; search between the two readings.
        var low = civil - max(before, after)  // offset `before` still applies here
        var high = civil - min(before, after)  // offset `after` already applies here
        let late = offset(high)
        while high - low > 1 {
            let mid = low + (high - low) / 2
            if offset(mid) == late { high = mid } else { low = mid }
        }
        return high
    }
}

/// A day of the proleptic Gregorian calendar, as days since 1970-01-01.
struct CivilDay: Equatable {
    let daysSinceEpoch: Int64
    let year: Int64
    let month: Int
    let day: Int
    /// 0 Sunday ... 6 Saturday.
    let weekday: Int

    init(daysSinceEpoch z: Int64) {
        // Howard Hinnant's civil_from_days.
        daysSinceEpoch = z
        let shifted = z + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let doe = shifted - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = Int(doy - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        weekday = Int((z + 4).floorMod(7))
    }

    init(year: Int64, month: Int, day: Int) {
        self.init(daysSinceEpoch: Self.days(year: year, month: month, day: day))
    }

    /// Howard Hinnant's days_from_civil.
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The next day, or the first day of the next month in `months` when the next day's month is
    /// not in it.
    func advanced(skippingMonthsNotIn months: UInt16) -> CivilDay {
        let next = CivilDay(daysSinceEpoch: daysSinceEpoch + 1)
        if months & (1 << UInt16(next.month)) != 0 { return next }
        var year = next.year
        var month = next.month
        for _ in 0..<12 {
            month += 1
            if month > 12 { month = 1; year += 1 }
            if months & (1 << UInt16(month)) != 0 { break }
        }
        return CivilDay(year: year, month: month, day: 1)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity.
    func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }

    /// The remainder of ``floorDiv(_:)``, in 0..<d for positive d.
    func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}
