import Foundation

/// A named schedule: when its slots come (a cron expression or a fixed interval), whether a slot
/// may start while an earlier slot's workflow still runs, and how far back a slot missed during
/// downtime is still started.
///
/// The value is pure: it reads no clock and no file. Each slot's workflow ID
/// (``workflowID(for:)``) is made of the name and the slot's UTC time, so every process that
/// starts a slot through the runtime's idempotent `start` starts the same workflow: the ID is the
/// guard that a slot runs once.
public struct ScheduleSpec: Sendable, Hashable, Codable {
    /// When the slots come.
    public enum Timing: Sendable, Hashable {
        /// The times a cron expression matches, in its time zone.
        case cron(CronExpression)
        /// Every `seconds` seconds, counted from 1970-01-01T00:00:00Z (so every process agrees on
        /// the slots: every hour is on the hour, UTC).
        case interval(seconds: Int64)
    }

    /// What a slot does while an earlier slot's workflow has not ended.
    public enum OverlapPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// The slot is skipped (never started later).
        case skip
        /// The slot starts anyway; the workflows run side by side.
        case allow
    }

    /// The schedule's name: a valid workflow-ID prefix.
    public let name: String
    /// When the slots come.
    public let timing: Timing
    /// What a slot does while an earlier slot's workflow runs.
    public let overlap: OverlapPolicy
    /// How old a missed slot may be and still start after downtime: the latest missed slot
    /// within it starts once; older ones are dropped.
    public let catchUpWindow: Duration

    /// The longest schedule name: room is left for the slot's `-YYYYMMDDTHHMMSSZ`.
    public static let maxNameBytes = Names.maxBytes - 17

    /// A schedule; throws ``FlowError/Code/invalidName`` for a name that breaks the workflow-ID
    /// rules (or is over ``maxNameBytes``), ``FlowError/Code/invalidArgument`` for an interval
    /// that is not a whole number of seconds of at least one, or a negative catch-up window.
    public init(
        name: String, timing: Timing, overlap: OverlapPolicy = .skip, catchUpWindow: Duration = .seconds(3600)
    ) throws(FlowError) {
        try Names.validate(name, as: "schedule name", code: .invalidName)
        if name.utf8.count > Self.maxNameBytes {
            throw FlowError(
                .invalidName,
                "schedule name \(Names.quoted(name)) is \(name.utf8.count) bytes long, over the limit of \(Self.maxNameBytes)")
        }
        if case .interval(let seconds) = timing, seconds < 1 {
            throw FlowError(.invalidArgument, "schedule \(Names.quoted(name)): interval of \(seconds) s, at least 1 s")
        }
        if catchUpWindow < .zero {
            throw FlowError(.invalidArgument, "schedule \(Names.quoted(name)): negative catch-up window \(catchUpWindow)")
        }
        self.name = name
        self.timing = timing
        self.overlap = overlap
        self.catchUpWindow = catchUpWindow
    }

    /// A schedule every `interval`, which must be a whole number of seconds, at least one.
    public init(
        name: String, every interval: Duration, overlap: OverlapPolicy = .skip, catchUpWindow: Duration = .seconds(3600)
    ) throws(FlowError) {
        let (seconds, fraction) = interval.components
        if fraction != 0 {
            throw FlowError(
                .invalidArgument, "schedule \(Names.quoted(name)): interval \(interval) is not a whole number of seconds")
        }
        try self.init(name: name, timing: .interval(seconds: seconds), overlap: overlap, catchUpWindow: catchUpWindow)
    }

    /// The first slot strictly after `date` (nil only for a cron expression that never matches
    /// again).
    public func next(after date: Date) -> Date? {
        switch timing {
        case .cron(let cron):
            return cron.next(after: date)
        case .interval(let seconds):
            let t = date.timeIntervalSince1970
            let k = (t / Double(seconds)).rounded(.down)
            var slot = (Int64(k) + 1) * seconds
            // Guard the floating-point division at exact multiples.
            while Double(slot - seconds) > t { slot -= seconds }
            while Double(slot) <= t { slot += seconds }
            return Date(timeIntervalSince1970: Double(slot))
        }
    }

    /// The slots in `range` (its lower bound included), in order.
    public func slots(in range: Range<Date>) -> [Date] {
        var result: [Date] = []
        // Slots are whole seconds: start just before the lower bound, so a slot on it counts.
        var cursor = range.lowerBound.addingTimeInterval(-0.001)
        while let slot = next(after: cursor), slot < range.upperBound {
            if slot >= range.lowerBound { result.append(slot) }
            cursor = slot
        }
        return result
    }

    /// The latest slot after `lastRun` and at or before `now` that is at most `window` old
    /// (``catchUpWindow`` when nil): the one slot to start after downtime. Nil when no slot was
    /// missed within the window.
    public func latestMissed(before now: Date, since lastRun: Date, window: Duration? = nil) -> Date? {
        let window = window ?? catchUpWindow
        let (seconds, attoseconds) = window.components
        let oldest = now.addingTimeInterval(-(Double(seconds) + Double(attoseconds) / 1e18))
        let from = max(oldest, lastRun.addingTimeInterval(0.001))
        guard from <= now else { return nil }
        switch timing {
        case .interval(let interval):
            // The last multiple of the interval at or before now.
            let latest = Int64((now.timeIntervalSince1970 / Double(interval)).rounded(.down)) * interval
            let slot = Date(timeIntervalSince1970: Double(latest))
            return slot >= from && slot > lastRun ? slot : nil
        case .cron:
            var latest: Date?
            var cursor = from.addingTimeInterval(-0.001)
            while let slot = next(after: cursor), slot <= now {
                latest = slot
                cursor = slot
            }
            return latest
        }
    }

    /// The workflow ID of the slot at `slot`: the name, a dash and the slot's UTC time to the
    /// second (`nightly-20261224T080000Z`), the same in every process for the same slot.
    public func workflowID(for slot: Date) -> String {
        "\(name)-\(Self.stamp(slot))"
    }

    /// The slot time a workflow ID of this schedule names, or nil when the ID is not one of its
    /// slots' IDs.
    public func slot(ofWorkflowID id: String) -> Date? {
        let prefix = name + "-"
        guard id.hasPrefix(prefix) else { return nil }
        return Self.parseStamp(String(id.dropFirst(prefix.count)))
    }

    /// `YYYYMMDDTHHMMSSZ` of `date`, in UTC, to the second (rounded down).
    static func stamp(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let day = CivilDay(daysSinceEpoch: seconds.floorDiv(86_400))
        let second = Int(seconds.floorMod(86_400))
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(day.year)
        let paddedYear = String(repeating: "0", count: max(0, 4 - year.count)) + year
        return "\(paddedYear)\(two(day.month))\(two(day.day))T\(two(second / 3600))\(two(second / 60 % 60))\(two(second % 60))Z"
    }

    /// The inverse of ``stamp(_:)``; nil for any other text.
    static func parseStamp(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        guard chars.count == 16, chars[8] == UInt8(ascii: "T"), chars[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard chars[i] >= UInt8(ascii: "0"), chars[i] <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(chars[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        let days = CivilDay.days(year: Int64(year), month: month, day: day)
        guard CivilDay(daysSinceEpoch: days).day == day else { return nil }
        return Date(timeIntervalSince1970: Double(days * 86_400 + Int64(hour * 3600 + minute * 60 + second)))
    }

    // MARK: - Codable (the stored form in `.runtime/schedules/NAME.json`)

    private enum CodingKeys: String, CodingKey {
        case name, cron, timeZone, intervalSeconds, overlap, catchUpSeconds
    }

    /// Decodes the stored form; a bad name, expression, zone or interval is a decoding error
    /// naming it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        let timing: Timing
        if let cron = try container.decodeIfPresent(String.self, forKey: .cron) {
            let zoneName = try container.decodeIfPresent(String.self, forKey: .timeZone) ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .timeZone, in: container, debugDescription: "unknown time zone \(Names.quoted(zoneName))")
            }
            timing = .cron(try CronExpression(cron, timeZone: zone))
        } else {
            timing = .interval(seconds: try container.decode(Int64.self, forKey: .intervalSeconds))
        }
        try self.init(
            name: name, timing: timing, overlap: try container.decode(OverlapPolicy.self, forKey: .overlap),
            catchUpWindow: .seconds(try container.decode(Int64.self, forKey: .catchUpSeconds)))
    }

    /// Encodes the stored form: `name`, `cron` and `timeZone` or `intervalSeconds`, `overlap`,
    /// `catchUpSeconds`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        switch timing {
        case .cron(let cron):
            try container.encode(cron.source, forKey: .cron)
            try container.encode(cron.timeZone.identifier, forKey: .timeZone)
        case .interval(let seconds):
            try container.encode(seconds, forKey: .intervalSeconds)
        }
        try container.encode(overlap, forKey: .overlap)
        try container.encode(catchUpWindow.components.seconds, forKey: .catchUpSeconds)
    }
}
