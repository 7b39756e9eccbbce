import Synchronization

/// A value built on first use and kept: the registration closure runs in every benchmark
/// process, so fixtures are built only by the benchmarks that need them (in `setup`).
final class Fixture<Value: Sendable>: Sendable {
    private let make: @Sendable () async throws -> Value
    private let value = Mutex<Value?>(nil)

    init(_ make: @escaping @Sendable () async throws -> Value) {
        self.make = make
    }

    /// The value, built now if it has not been yet.
    func get() async throws -> Value {
        if let built = value.withLock({ $0 }) { return built }
        let built = try await make()
        value.withLock { $0 = built }
        return built
    }

    /// The value; only after ``get()`` ran (in the benchmark's setup).
    var built: Value {
        guard let built = value.withLock({ $0 }) else { fatalError("fixture used before its setup ran") }
        return built
    }
}
