import ArgumentParser

/// The options `run` and `resume` share.
struct RunOptions: ParsableArguments {
    @Option(name: [.customShort("j"), .long], help: "Most nodes running at once (default: the file's `concurrency`, else the number of CPUs).")
    var concurrency: Int?

    @Option(name: .long, help: ArgumentHelp("The largest output (stdout) a node may write, in bytes; K, M and G suffixes work.", valueName: "bytes"))
    var maxOutput: String = "1M"

    @Flag(name: .long, help: "After a failure, keep running the nodes that do not depend on it.")
    var keepGoing = false

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let value = Int(maxOutput.trimmingSpaces()), value < 1 {
            throw ValidationError("--max-output must be at least 1 byte, not \(value)")
        }
        if ByteCount.parse(maxOutput) == nil {
            throw ValidationError("--max-output \(TextFormat.quoted(maxOutput)) is not a byte count like 65536, 512K or 4M")
        }
    }

    var settings: RunSettings {
        RunSettings(concurrency: concurrency, maxOutputBytes: ByteCount.parse(maxOutput)!, keepGoing: keepGoing)
    }
}

/// Byte counts with optional binary suffixes: `512`, `64K`, `4M`, `1G`.
enum ByteCount {
    static func parse(_ text: String) -> Int? {
        var digits = Substring(text.uppercased())
        var multiplier = 1
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        switch digits.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        default: break
        }
        if multiplier > 1 { digits = digits.dropLast() }
        guard let value = Int(digits), value > 0, value <= (1 << 40) / multiplier else { return nil }
        return value * multiplier
    }
}
