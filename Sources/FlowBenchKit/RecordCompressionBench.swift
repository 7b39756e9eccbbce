import FBSchema
import FlowOrchestrator
import Foundation

/// Compressing journal-sized records one at a time (each must stand alone: a journal is read
/// record by record and cut at any record boundary), with and without a zstd dictionary trained
/// on other records of the same kind.
public enum RecordCompressionBench {
    /// One strategy's figures over the test records.
    public struct Result: Sendable {
        /// "raw frame", "zstd-3", "zstd-3+dict", "whole journal zstd-3".
        public var strategy: String
        /// Records compressed.
        public var records: Int
        /// Stored bytes per record (for the whole-journal reference: the file's size / records).
        public var bytesPerRecord: Double
        /// Median microseconds to compress one record.
        public var compressMicros: Double
        /// Median microseconds to decompress one record.
        public var decompressMicros: Double
        /// Bytes of the dictionary (0 without one).
        public var dictionaryBytes: Int
    }

    /// Framed journal records (8-byte frame header, a Record FlatBuffer, padding) of a run over
    /// nodes `firstNode...`: a start and a completion per node, the completion with a short
    /// command-like output, as `flowctl` runs journal them.
    public static func records(count: Int, firstNode: Int, firstSequence: UInt64 = 1) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(count)
        let start = 1_800_000_000_000_000 as Int64
        for index in 0..<count {
            let node = firstNode + index / 2
            let completed = index % 2 == 1
            var arena = ByteArena(capacity: 128)
            var record = fbs_record_in()
            record.sequence = firstSequence + UInt64(index)
            record.time_us = start + Int64(index) * 1_237 + Int64(node % 97)
            record.kind = completed ? FBS_EVENT_NODE_COMPLETED : FBS_EVENT_NODE_STARTED
            record.node = arena.add("ingest/shard-\(node)")
            record.node_index = Int32(node)
            record.attempt = 1
            record.error = arena.add(String?.none)
            record.key = arena.add(String?.none)
            record.payload =
                completed
                ? arena.add(Data("{\"rows\":\(node &* 7919 % 100_000),\"ms\":\(node % 1_000)}\n".utf8))
                : arena.add(Data?.none)
            record.workflow_status = FBS_WORKFLOW_RUNNING
            var output = fbs_buffer()
            var error = fbs_error()
            let code = arena.bytes.withUnsafeBytes { arenaBytes in
                fbs_records_encode(&record, 1, arenaBytes.baseAddress, arenaBytes.count, &output, &error)
            }
            guard code == FBS_OK else { throw FlowError(.invalidArgument, "record encode failed: \(error.benchText)") }
            frames.append(Array(UnsafeRawBufferPointer(start: output.data, count: output.size)))
            fbs_buffer_free(&output)
        }
        return frames
    }

    /// Trains a dictionary on `trainingRecords` records of one run and compresses `records`
    /// records of another run one by one, at each level with and without the dictionary.
    public static func measure(
        records count: Int = 20_000, trainingRecords: Int = 10_000, dictionaryCapacity: Int = 16 << 10,
        levels: [Int32] = SerializationBench.levels
    ) throws -> [Result] {
        let training = try records(count: trainingRecords, firstNode: 1_000_000)
        let test = try records(count: count, firstNode: 0)
        let dictionaryBytes = try ZstdKit.trainDictionary(samples: training, capacity: dictionaryCapacity)
        let rawBytes = test.reduce(0) { $0 + $1.count }
        var results = [
            Result(
                strategy: "raw frame", records: count, bytesPerRecord: Double(rawBytes) / Double(count),
                compressMicros: 0, decompressMicros: 0, dictionaryBytes: 0)
        ]
        var scratch = [UInt8](repeating: 0, count: 4096)
        for level in levels {
            let plain = try ZstdKit.Plain(level: level)
            let dictionary = try ZstdKit.Dictionary(dictionaryBytes, level: level)
            for (label, compress, decompress) in [
                ("zstd-\(level)", plain.compress, plain.decompress),
                ("zstd-\(level)+dict", dictionary.compress, dictionary.decompress),
            ] as [(String, (UnsafeRawBufferPointer) throws -> [UInt8], (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws -> Int)] {
                var compressed: [[UInt8]] = []
                compressed.reserveCapacity(count)
                let compressSeconds = try Timing.seconds {
                    for record in test { compressed.append(try record.withUnsafeBytes(compress)) }
                }
                var restoredBytes = 0
                let decompressSeconds = try Timing.seconds {
                    for frame in compressed {
                        restoredBytes += try frame.withUnsafeBytes { frame in
                            try scratch.withUnsafeMutableBytes { try decompress(frame, $0) }
                        }
                    }
                }
                guard restoredBytes == rawBytes else {
                    throw FlowError(.corruptData, "\(label): records changed in the round trip")
                }
                results.append(
                    Result(
                        strategy: label, records: count,
                        bytesPerRecord: Double(compressed.reduce(0) { $0 + $1.count }) / Double(count),
                        compressMicros: compressSeconds * 1e6 / Double(count),
                        decompressMicros: decompressSeconds * 1e6 / Double(count),
                        dictionaryBytes: label.hasSuffix("dict") ? dictionary.size : 0))
            }
        }
        // The bound no record-by-record scheme reaches: the whole journal as one stream.
        let whole = Array(test.joined())
        var compressed: [UInt8] = []
        let seconds = try Timing.seconds { compressed = try whole.withUnsafeBytes { try ZstdKit.compress($0, level: 3) } }
        results.append(
            Result(
                strategy: "whole journal zstd-3", records: count,
                bytesPerRecord: Double(compressed.count) / Double(count), compressMicros: seconds * 1e6 / Double(count),
                decompressMicros: 0, dictionaryBytes: 0))
        return results
    }
}
