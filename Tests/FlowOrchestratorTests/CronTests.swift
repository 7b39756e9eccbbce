import Foundation
import Testing

import FlowOrchestrator

/// An instant from RFC 3339 text (`2026-03-29T01:00:00Z`, `2026-03-29T03:00:00+02:00`).
private func t(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { fatalError("bad test time \(text)") }
    return date
}

private func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }

private func cron(_ text: String, _ zoneName: String = "UTC") throws -> CronExpression {
    try CronExpression(text, timeZone: zone(zoneName))
}

/// The slots of `expression` in [from, to).
private func slots(_ expression: String, _ zoneName: String = "UTC", from: String, to: String) throws -> [Date] {
    let spec = try ScheduleSpec(name: "s", timing: .cron(cron(expression, zoneName)))
    return spec.slots(in: t(from)..<t(to))
}

/// The ParseError a bad expression is refused with.
private func parseError(_ text: String) -> CronExpression.ParseError? {
    do {
        _ = try CronExpression(text)
        return nil
    } catch {
        #expect(error.code == .invalidArgument)
        return error.cause as? CronExpression.ParseError
    }
}

@Suite("Cron expressions")
struct CronTests {
    // MARK: fields

    @Test("steps, ranges, lists and stepped ranges pick exactly their minutes and hours")
    func stepsAndRanges() throws {
        #expect(try cron("*/15 * * * *").next(after: t("2026-05-04T10:07:00Z")) == t("2026-05-04T10:15:00Z"))
        #expect(
            try slots("5-20/5 * * * *", from: "2026-05-04T10:00:00Z", to: "2026-05-04T11:00:00Z")
                == ["05", "10", "15", "20"].map { t("2026-05-04T10:\($0):00Z") })
        #expect(
            try slots("10/20 * * * *", from: "2026-05-04T10:00:00Z", to: "2026-05-04T11:00:00Z")
                == ["10", "30", "50"].map { t("2026-05-04T10:\($0):00Z") })
        #expect(
            try slots("0 9-17/4 * * *", from: "2026-05-04T00:00:00Z", to: "2026-05-05T00:00:00Z")
                == ["09", "13", "17"].map { t("2026-05-04T\($0):00:00Z") })
        #expect(
            try slots("0,30 6 * * *", from: "2026-05-04T00:00:00Z", to: "2026-05-05T00:00:00Z")
                == [t("2026-05-04T06:00:00Z"), t("2026-05-04T06:30:00Z")])
        #expect(
            try slots("0 0 1 JAN,jul *", from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z")
                == [t("2026-01-01T00:00:00Z"), t("2026-07-01T00:00:00Z")])
        // A slot exactly on the range's lower bound counts; one on the upper bound does not.
        #expect(
            try slots("0 * * * *", from: "2026-05-04T10:00:00Z", to: "2026-05-04T12:00:00Z")
                == [t("2026-05-04T10:00:00Z"), t("2026-05-04T11:00:00Z")])
        // next(after:) is strictly after, even on a slot.
        #expect(try cron("0 * * * *").next(after: t("2026-05-04T10:00:00Z")) == t("2026-05-04T11:00:00Z"))
    }

    @Test("week days: names, ranges, 0 and 7 are both Sunday")
    func weekDays() throws {
        // 2026-12-24 is a Thursday; Europe/Berlin is UTC+1 in winter.
        let weekdays = try cron("0 8 * * MON-FRI", "Europe/Berlin")
        #expect(weekdays.next(after: t("2026-12-24T09:00:00+01:00")) == t("2026-12-25T08:00:00+01:00"))
        #expect(weekdays.next(after: t("2026-12-25T09:00:00+01:00")) == t("2026-12-28T08:00:00+01:00"))
        let sundays = ["0", "7", "SUN", "sun"].map { try? slots("0 0 * * \($0)", from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z") }
        let expected = ["01", "08", "15", "22", "29"].map { t("2026-03-\($0)T00:00:00Z") }
        for found in sundays { #expect(found == expected) }
        #expect(try slots("0 0 * * 5-7", from: "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z").count == 3)
    }

    @Test("both day fields restricted: a day matching either runs (Vixie); a star in one: both must")
    func bothDayFields() throws {
        // March 2026: Fridays are the 6th, 13th, 20th and 27th.
        #expect(
            try slots("0 0 10 * FRI", from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z")
                == ["06", "10", "13", "20", "27"].map { t("2026-03-\($0)T00:00:00Z") })
        #expect(
            try slots("0 0 10 * *", from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z")
                == [t("2026-03-10T00:00:00Z")])
        // `*/10` starts with a star: the week day restricts as well (AND), as in Vixie cron.
        try Self.checkAgainstCalendar("0 0 */10 * FRI", dayOfMonth: { ($0 - 1) % 10 == 0 }, dayOfWeek: { $0 == 5 }, either: false)
        try Self.checkAgainstCalendar("0 0 1,15 * MON", dayOfMonth: { $0 == 1 || $0 == 15 }, dayOfWeek: { $0 == 1 }, either: true)
        try Self.checkAgainstCalendar("0 0 * * 1-5", dayOfMonth: { _ in true }, dayOfWeek: { (1...5).contains($0) }, either: false)
        try Self.checkAgainstCalendar("0 0 13 * 5", dayOfMonth: { $0 == 13 }, dayOfWeek: { $0 == 5 }, either: true)
    }

    /// The days of 2026 and 2027 on which `expression` runs equal the days Foundation's Gregorian
    /// calendar gives for the rule written out here (week day 0 is Sunday).
    static func checkAgainstCalendar(
        _ expression: String, dayOfMonth: (Int) -> Bool, dayOfWeek: (Int) -> Bool, either: Bool
    ) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone("UTC")
        var expected: [Date] = []
        var day = t("2026-01-01T00:00:00Z")
        while day < t("2028-01-01T00:00:00Z") {
            let parts = calendar.dateComponents([.day, .weekday], from: day)
            let dom = dayOfMonth(parts.day!)
            let dow = dayOfWeek(parts.weekday! - 1)
            if either ? (dom || dow) : (dom && dow) { expected.append(day) }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
        let found = try slots(expression, from: "2026-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z")
        #expect(found == expected, "\(expression)")
        #expect(!found.isEmpty)
    }

    @Test("month ends: the 31st only in months that have one; the last of February")
    func monthEnds() throws {
        #expect(
            try slots("0 0 31 * *", from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z")
                == ["01", "03", "05", "07", "08", "10", "12"].map { t("2026-\($0)-31T00:00:00Z") })
        #expect(
            try slots("0 0 28-31 2 *", from: "2026-01-01T00:00:00Z", to: "2029-01-01T00:00:00Z")
                == ["2026-02-28", "2027-02-28", "2028-02-28", "2028-02-29"].map { t("\($0)T00:00:00Z") })
        // The turn of a year.
        #expect(try cron("59 23 31 12 *").next(after: t("2026-12-31T23:59:00Z")) == t("2027-12-31T23:59:00Z"))
        #expect(try cron("0 0 1 * *").next(after: t("2026-12-31T23:59:59Z")) == t("2027-01-01T00:00:00Z"))
    }

    @Test("leap day: 29 February every four years, not in 2100")
    func leapDay() throws {
        let leap = try cron("0 12 29 2 *")
        #expect(leap.next(after: t("2026-01-01T00:00:00Z")) == t("2028-02-29T12:00:00Z"))
        #expect(leap.next(after: t("2028-02-29T12:00:00Z")) == t("2032-02-29T12:00:00Z"))
        #expect(leap.next(after: t("2096-03-01T00:00:00Z")) == t("2104-02-29T12:00:00Z"))
        // 29 February that is also a Sunday (a star day-of-week would not restrict; `*/7` does).
        #expect(try cron("0 0 29 2 */7").next(after: t("2026-01-01T00:00:00Z")) == t("2032-02-29T00:00:00Z"))
    }

    @Test("@macros stand for their five fields")
    func macros() throws {
        #expect(try cron("@hourly").next(after: t("2026-05-04T10:07:00Z")) == t("2026-05-04T11:00:00Z"))
        #expect(try cron("@daily").next(after: t("2026-05-04T10:07:00Z")) == t("2026-05-05T00:00:00Z"))
        #expect(try cron("@weekly").next(after: t("2026-05-04T10:07:00Z")) == t("2026-05-10T00:00:00Z"))
        #expect(try cron("@monthly").next(after: t("2026-05-04T10:07:00Z")) == t("2026-06-01T00:00:00Z"))
        #expect(try cron("@YEARLY").next(after: t("2026-05-04T10:07:00Z")) == t("2027-01-01T00:00:00Z"))
    }

    // MARK: time zones and daylight saving

    @Test("Europe/Berlin spring forward: a slot in the skipped hour runs once at 03:00")
    func berlinSpring() throws {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST, at 01:00Z.
        let daily = try cron("30 2 * * *", "Europe/Berlin")
        #expect(daily.next(after: t("2026-03-28T12:00:00Z")) == t("2026-03-29T03:00:00+02:00"))
        #expect(daily.next(after: t("2026-03-29T03:00:00+02:00")) == t("2026-03-30T02:30:00+02:00"))
        // Every quarter hour: the four skipped slots run once, together, at 03:00.
        #expect(
            try slots("*/15 * * * *", "Europe/Berlin", from: "2026-03-29T00:30:00Z", to: "2026-03-29T01:30:00Z")
                == ["00:30", "00:45", "01:00", "01:15"].map { t("2026-03-29T\($0):00Z") })
        // A normal day keeps its local time: 08:00 is 07:00Z before, 06:00Z after.
        let morning = try cron("0 8 * * *", "Europe/Berlin")
        #expect(morning.next(after: t("2026-03-27T12:00:00Z")) == t("2026-03-28T07:00:00Z"))
        #expect(morning.next(after: t("2026-03-28T12:00:00Z")) == t("2026-03-29T06:00:00Z"))
    }

    @Test("Europe/Berlin fall back: a slot in the repeated hour runs once, at its first occurrence")
    func berlinFall() throws {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET, at 01:00Z; 02:00-02:59 comes twice.
        let daily = try cron("30 2 * * *", "Europe/Berlin")
        #expect(daily.next(after: t("2026-10-24T12:00:00Z")) == t("2026-10-25T02:30:00+02:00"))
        #expect(daily.next(after: t("2026-10-25T02:30:00+02:00")) == t("2026-10-26T02:30:00+01:00"))
        #expect(
            try slots("*/30 * * * *", "Europe/Berlin", from: "2026-10-25T00:00:00Z", to: "2026-10-25T02:00:00Z")
                == [t("2026-10-25T00:00:00Z"), t("2026-10-25T00:30:00Z")])
        // From inside the second pass, the next slot is after it.
        #expect(try cron("*/30 * * * *", "Europe/Berlin").next(after: t("2026-10-25T01:10:00Z")) == t("2026-10-25T02:00:00Z"))
        #expect(try cron("0 3 * * *", "Europe/Berlin").next(after: t("2026-10-24T12:00:00Z")) == t("2026-10-25T03:00:00+01:00"))
    }

    @Test("America/New_York: 02:00 on the spring day runs at 03:00 EDT; 01:30 on the fall day once")
    func newYork() throws {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT, at 07:00Z.
        let two = try cron("0 2 * * *", "America/New_York")
        #expect(two.next(after: t("2026-03-07T12:00:00Z")) == t("2026-03-08T03:00:00-04:00"))
        #expect(two.next(after: t("2026-03-08T03:00:00-04:00")) == t("2026-03-09T02:00:00-04:00"))
        // 2026-11-01: 02:00 EDT becomes 01:00 EST, at 06:00Z.
        let early = try cron("30 1 * * *", "America/New_York")
        #expect(early.next(after: t("2026-10-31T12:00:00Z")) == t("2026-11-01T01:30:00-04:00"))
        #expect(early.next(after: t("2026-11-01T01:30:00-04:00")) == t("2026-11-02T01:30:00-05:00"))
        #expect(
            try slots("0 * * * *", "America/New_York", from: "2026-11-01T04:00:00Z", to: "2026-11-01T08:00:00Z")
                == ["04", "05", "07"].map { t("2026-11-01T\($0):00:00Z") })
    }

    // MARK: errors

    @Test(
        "a bad expression is refused naming the field and the value",
        arguments: [
            ("61 * * * *", CronExpression.Field.minute, "61"),
            ("* 24 * * *", .hour, "24"),
            ("* * 0 * *", .dayOfMonth, "0"),
            ("* * * 13 *", .month, "13"),
            ("* * * * 8", .dayOfWeek, "8"),
            ("* * * FOO *", .month, "FOO"),
            ("* * * * MON-SUNDAY", .dayOfWeek, "MON-SUNDAY"),
            ("5-1 * * * *", .minute, "5-1"),
            ("*/0 * * * *", .minute, "*/0"),
            ("*/x * * * *", .minute, "*/x"),
            ("1,,2 * * * *", .minute, "1,,2"),
            ("0 0 30 FEB *", .dayOfMonth, "30"),
            ("0 0 31 APR,JUN *", .dayOfMonth, "31"),
            ("-1 * * * *", .minute, "-1"),
        ])
    func fieldErrors(text: String, field: CronExpression.Field, value: String) {
        let error = parseError(text)
        #expect(error?.field == field, "\(text)")
        #expect(error?.value == value, "\(text)")
    }

    @Test("a wrong number of fields or an unknown macro is refused as a whole")
    func wholeErrors() throws {
        #expect(parseError("* * * *")?.field == nil)
        #expect(parseError("* * * *")?.reason.contains("4 fields") == true)
        #expect(parseError("* * * * * *")?.reason.contains("6 fields") == true)
        #expect(parseError("")?.reason.contains("0 fields") == true)
        #expect(parseError("@every")?.value == "@every")
        do {
            _ = try CronExpression("* 24 * * *")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("hour field \"24\": 24 is out of range 0-23"))
        }
        // Both day fields restricted: 31 April never comes, but Mondays in April do.
        #expect(parseError("0 0 31 APR,JUN MON") == nil)
    }
}

@Suite("Schedule specs")
struct ScheduleSpecTests {
    @Test("a slot's workflow ID is the name and its UTC time, the same for the same slot, and reads back")
    func workflowIDs() throws {
        let spec = try ScheduleSpec(name: "nightly", timing: .cron(CronExpression("0 9 * * *", timeZone: zone("Europe/Berlin"))))
        let slot = try #require(spec.next(after: t("2026-12-23T12:00:00Z")))
        #expect(slot == t("2026-12-24T08:00:00Z"))
        #expect(spec.workflowID(for: slot) == "nightly-20261224T080000Z")
        // Another process, another Date value for the same instant: the same ID.
        #expect(spec.workflowID(for: t("2026-12-24T09:00:00+01:00")) == "nightly-20261224T080000Z")
        #expect(spec.slot(ofWorkflowID: "nightly-20261224T080000Z") == slot)
        #expect(spec.slot(ofWorkflowID: "nightly-20261324T080000Z") == nil)
        #expect(spec.slot(ofWorkflowID: "nightly-20260230T080000Z") == nil)
        #expect(spec.slot(ofWorkflowID: "other-20261224T080000Z") == nil)
        #expect(spec.slot(ofWorkflowID: "nightly-20261224T0800Z") == nil)
        let every = try ScheduleSpec(name: "tick", every: .seconds(1))
        #expect(every.workflowID(for: Date(timeIntervalSince1970: 5.999)) == "tick-19700101T000005Z")
    }

    @Test("a bad name, interval or window is refused with a typed error")
    func specErrors() throws {
        #expect(throws: FlowError.self) { try ScheduleSpec(name: ".hidden", every: .seconds(1)) }
        #expect(throws: FlowError.self) { try ScheduleSpec(name: "a/b", every: .seconds(1)) }
        #expect(throws: FlowError.self) { try ScheduleSpec(name: String(repeating: "x", count: ScheduleSpec.maxNameBytes + 1), every: .seconds(1)) }
        #expect(try ScheduleSpec(name: String(repeating: "x", count: ScheduleSpec.maxNameBytes), every: .seconds(1)).name.count == 183)
        for bad: Duration in [.zero, .milliseconds(1500), .seconds(-5)] {
            do {
                _ = try ScheduleSpec(name: "tick", every: bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
        do {
            _ = try ScheduleSpec(name: ".x", every: .seconds(1))
        } catch {
            #expect(error.code == .invalidName)
        }
        #expect(throws: FlowError.self) { try ScheduleSpec(name: "tick", every: .seconds(1), catchUpWindow: .seconds(-1)) }
    }

    @Test("intervals: slots are multiples of the interval since 1970, UTC")
    func intervals() throws {
        let minute = try ScheduleSpec(name: "m", every: .seconds(60))
        #expect(minute.next(after: Date(timeIntervalSince1970: 100.5)) == Date(timeIntervalSince1970: 120))
        #expect(minute.next(after: Date(timeIntervalSince1970: 120)) == Date(timeIntervalSince1970: 180))
        let second = try ScheduleSpec(name: "s", every: .seconds(1))
        let range = t("2026-05-04T10:00:00Z")..<t("2026-05-04T10:00:10Z")
        #expect(second.slots(in: range) == (0..<10).map { range.lowerBound.addingTimeInterval(Double($0)) })
        let hourly = try ScheduleSpec(name: "h", every: .seconds(3600))
        #expect(hourly.next(after: t("2026-05-04T10:59:59Z")) == t("2026-05-04T11:00:00Z"))
    }

    @Test("after downtime: the latest missed slot within the window, once")
    func latestMissed() throws {
        let hourly = try ScheduleSpec(name: "h", timing: .cron(CronExpression("0 * * * *")), catchUpWindow: .seconds(3 * 3600))
        let now = t("2026-12-24T10:20:00Z")
        #expect(hourly.latestMissed(before: now, since: t("2026-12-23T08:00:00Z")) == t("2026-12-24T10:00:00Z"))
        #expect(hourly.latestMissed(before: now, since: t("2026-12-23T08:00:00Z"), window: .seconds(600)) == nil)
        #expect(hourly.latestMissed(before: now, since: t("2026-12-23T08:00:00Z"), window: .seconds(1200)) == t("2026-12-24T10:00:00Z"))
        // It ran at 10:00: nothing is missed.
        #expect(hourly.latestMissed(before: now, since: t("2026-12-24T10:00:00Z")) == nil)
        #expect(hourly.latestMissed(before: now, since: t("2026-12-24T09:00:00Z")) == t("2026-12-24T10:00:00Z"))
        // A slot exactly at now is due, and counts.
        #expect(hourly.latestMissed(before: t("2026-12-24T10:00:00Z"), since: t("2026-12-24T09:00:00Z")) == t("2026-12-24T10:00:00Z"))
        let minute = try ScheduleSpec(name: "m", every: .seconds(60), catchUpWindow: .seconds(300))
        #expect(minute.latestMissed(before: Date(timeIntervalSince1970: 1000.5), since: .distantPast) == Date(timeIntervalSince1970: 960))
        #expect(minute.latestMissed(before: Date(timeIntervalSince1970: 1000.5), since: Date(timeIntervalSince1970: 960)) == nil)
        #expect(minute.latestMissed(before: Date(timeIntervalSince1970: 1000.5), since: .distantPast, window: .seconds(30)) == nil)
    }

    @Test("the stored JSON form reads back equal; a bad stored expression is a decoding error")
    func codable() throws {
        let specs = [
            try ScheduleSpec(name: "nightly", timing: .cron(CronExpression("0 2 * * MON-FRI", timeZone: zone("America/New_York"))), overlap: .allow, catchUpWindow: .seconds(600)),
            try ScheduleSpec(name: "tick", every: .seconds(5)),
        ]
        for spec in specs {
            let data = try JSONEncoder().encode(spec)
            #expect(try JSONDecoder().decode(ScheduleSpec.self, from: data) == spec)
        }
        let bad = Data(#"{"name":"x","cron":"* 24 * * *","timeZone":"UTC","overlap":"skip","catchUpSeconds":0}"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ScheduleSpec.self, from: bad) }
        let badZone = Data(#"{"name":"x","cron":"* * * * *","timeZone":"Mars/Olympus","overlap":"skip","catchUpSeconds":0}"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(ScheduleSpec.self, from: badZone) }
    }
}
