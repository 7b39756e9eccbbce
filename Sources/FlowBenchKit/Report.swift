import Foundation

/// Benchmark results as tables, rendered for people (aligned text), for programs (JSON) and for
/// spreadsheets and plotting scripts (CSV, one figure per line).
public struct BenchReport: Sendable {
    /// Where and when it was measured.
    public var context: [(key: String, value: String)] = []
    /// The tables, in the order they are printed.
    public var tables: [ReportTable] = []
    /// The project's targets, checked against the figures measured.
    public var targets: [TargetCheck] = []

    public init() {}

    /// The output formats.
    public enum Format: String, Sendable, CaseIterable {
        case table, json, csv
    }

    /// The report in `format`.
    public func render(_ format: Format) -> String {
        switch format {
        case .table: renderTable()
        case .json: renderJSON()
        case .csv: renderCSV()
        }
    }

    // MARK: Text

    private func renderTable() -> String {
        var out = context.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        for table in tables {
            out += "\n\n" + table.title + "\n"
            let headers = [table.labelHeader] + table.columns.map(\.header)
            let cells = table.rows.map { row in
                [row.label] + zip(table.columns, row.values).map { column, value in column.format(value) }
            }
            var widths = headers.map(\.count)
            for row in cells {
                for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
            }
            func line(_ fields: [String]) -> String {
                fields.enumerated().map { index, field in
                    index == 0
                        ? field.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[index] - field.count) + field
                }.joined(separator: "  ")
            }
            out += line(headers) + "\n"
            out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
            out += cells.map(line).joined(separator: "\n")
            for note in table.notes { out += "\n  " + note }
        }
        if !targets.isEmpty {
            out += "\n\nTargets (SPEC.md)\n"
            let width = targets.map(\.name.count).max() ?? 0
            for target in targets {
                out += "\(target.verdict.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                out += "\(target.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(target.figure)"
                out += " (target \(target.requirement))\n"
            }
        }
        return out.trimmingCharacters(in: .newlines) + "\n"
    }

    // MARK: JSON

    private func renderJSON() -> String {
        var out = "{\n  \"context\": {"
        out += context.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", ") + "},\n"
        out += "  \"tables\": [\n"
        out += tables.map { table in
            var text = "    {\"id\": \(quoted(table.id)), \"title\": \(quoted(table.title)), "
            text += "\"notes\": [\(table.notes.map(quoted).joined(separator: ", "))],\n     \"rows\": [\n"
            text += table.rows.map { row in
                let fields = [("label", quoted(row.label))]
                    + zip(table.columns, row.values).map { ($0.key, $1.map(number) ?? "null") }
                return "       {" + fields.map { "\(quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
            }.joined(separator: ",\n")
            return text + "\n     ]}"
        }.joined(separator: ",\n")
        out += "\n  ],\n  \"targets\": [\n"
        out += targets.map { target in
            "    {\"name\": \(quoted(target.name)), \"requirement\": \(quoted(target.requirement)), "
                + "\"figure\": \(quoted(target.figure)), \"value\": \(target.value.map(number) ?? "null"), "
                + "\"met\": \(target.met.map { $0 ? "true" : "false" } ?? "null")}"
        }.joined(separator: ",\n")
        return out + "\n  ]\n}\n"
    }

    private func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.6g", value)
    }

    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    // MARK: CSV

    private func renderCSV() -> String {
        var lines = ["table,label,metric,value"]
        for table in tables {
            for row in table.rows {
                for (column, value) in zip(table.columns, row.values) {
                    guard let value else { continue }
                    lines.append([table.id, row.label, column.key, number(value)].map(csvField).joined(separator: ","))
                }
            }
        }
        for target in targets {
            guard let value = target.value else { continue }
            lines.append(["targets", target.name, target.met == true ? "met" : "not met", number(value)].map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// One table: a label column, then numeric columns.
public struct ReportTable: Sendable {
    /// A machine-friendly name: the `table` field of CSV lines, `id` in JSON.
    public var id: String
    /// The heading printed above it.
    public var title: String
    /// The header of the label column.
    public var labelHeader: String
    public var columns: [Column]
    public var rows: [Row] = []
    /// Lines printed under it.
    public var notes: [String] = []

    public init(id: String, title: String, labelHeader: String, columns: [Column]) {
        self.id = id
        self.title = title
        self.labelHeader = labelHeader
        self.columns = columns
    }

    /// Adds a row; `values` follow `columns`, nil for "not measured".
    public mutating func add(_ label: String, _ values: [Double?]) {
        rows.append(Row(label: label, values: values))
    }

    /// A numeric column.
    public struct Column: Sendable {
        /// Its key in JSON and CSV ("encode_ms").
        public var key: String
        /// Its header in the text table ("encode ms").
        public var header: String
        /// Digits after the point in the text table.
        public var decimals: Int
        /// Text after the number in the text table ("x").
        public var suffix: String

        public init(_ key: String, _ header: String, decimals: Int = 0, suffix: String = "") {
            self.key = key
            self.header = header
            self.decimals = decimals
            self.suffix = suffix
        }

        func format(_ value: Double?) -> String {
            guard let value, value.isFinite else { return "-" }
            if decimals == 0 { return Self.grouped(Int64(value.rounded())) + suffix }
            return String(format: "%.\(decimals)f", value) + suffix
        }

        /// 1234567 as "1,234,567".
        static func grouped(_ value: Int64) -> String {
            let digits = String(value.magnitude)
            var out = ""
            for (index, digit) in digits.enumerated() {
                if index > 0, (digits.count - index) % 3 == 0 { out += "," }
                out.append(digit)
            }
            return (value < 0 ? "-" : "") + out
        }
    }

    /// A label and its values.
    public struct Row: Sendable {
        public var label: String
        public var values: [Double?]
    }
}

/// One of SPEC.md's targets with the figure measured against it.
public struct TargetCheck: Sendable {
    /// What is measured ("snapshot save, 100k nodes").
    public var name: String
    /// The target as SPEC.md states it ("<= 30 ms").
    public var requirement: String
    /// The figure as text ("12.3 ms").
    public var figure: String
    /// The figure as a number, for JSON and CSV.
    public var value: Double?
    /// Whether the target is met; nil when it was not measured at the target's size.
    public var met: Bool?

    public init(name: String, requirement: String, figure: String, value: Double?, met: Bool?) {
        self.name = name
        self.requirement = requirement
        self.figure = figure
        self.value = value
        self.met = met
    }

    /// "met", "NOT MET" or "n/a".
    public var verdict: String {
        switch met {
        case true?: "met"
        case false?: "NOT MET"
        case nil: "n/a"
        }
    }
}
