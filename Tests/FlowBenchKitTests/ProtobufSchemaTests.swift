import Foundation
import Testing

/// The committed Swift code of Protos/workflow.proto must come from that very file.
@Suite struct ProtobufSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The SHA-256 of `path`, from coreutils' sha256sum (no hashing library needed).
    static func sha256(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    @Test func generatedCodeRecordsTheHashOfTheCurrentProto() throws {
        let proto = Self.root.appendingPathComponent("Protos/workflow.proto").path
        let generated = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/FlowBenchKit/Generated/workflow.pb.swift"), encoding: .utf8)
        let recorded = generated.split(separator: "\n").first { $0.hasPrefix("// proto-sha256: ") }
            .map { String($0.dropFirst("// proto-sha256: ".count)) }
        let actual = try Self.sha256(proto)
        #expect(actual.count == 64)
        #expect(
            recorded == actual,
            "Protos/workflow.proto changed without regenerating: run scripts/regen-protobuf.sh (recorded \(recorded ?? "none"), now \(actual))"
        )
    }
}
