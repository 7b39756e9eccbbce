import Foundation

/// How often a node is tried and how long to wait between tries.
///
/// The wait before retry *n* (counting from 1) is `initialBackoff × multiplier^(n-1)`, capped at
/// `maxBackoff`, then shortened by up to `jitter` (a fraction) at random so that nodes failing
/// together do not retry in lockstep.
public struct RetryPolicy: Sendable {
    /// Attempts allowed, the first one included; 1 means no retry. They are counted over every
    /// attempt the store recorded since the node was last reset or completed, across runs: an
    /// attempt cut short by a crash of the process counts (so a node that kills its process
    /// runs at most this many times), one cut short by an interrupt or a cancellation does not.
    public var maxAttempts: Int
    /// The wait before the first retry.
    public var initialBackoff: Duration
    /// The factor each further wait grows by.
    public var multiplier: Double
    /// The longest wait.
    public var maxBackoff: Duration
    /// The largest fraction of a wait taken off at random, from 0 (none) to 1.
    public var jitter: Double
    /// Which errors are worth another attempt; cancellation never is.
    public var shouldRetry: @Sendable (any Error) -> Bool

    /// A policy with every field given.
    public init(
        maxAttempts: Int, initialBackoff: Duration = .milliseconds(100), multiplier: Double = 2,
        maxBackoff: Duration = .seconds(30), jitter: Double = 0.2,
        shouldRetry: @escaping @Sendable (any Error) -> Bool = { _ in true }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = max(.zero, initialBackoff)
        self.multiplier = max(1, multiplier)
        self.maxBackoff = max(self.initialBackoff, maxBackoff)
        self.jitter = min(1, max(0, jitter))
        self.shouldRetry = shouldRetry
    }

    /// One attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before retry `retry` (1 for the first retry), given a random draw in `0..<1`.
    public func backoff(beforeRetry retry: Int, random: Double) -> Duration {
        let base = initialBackoff.seconds * pow(multiplier, Double(max(0, retry - 1)))
        let capped = min(base, maxBackoff.seconds)
        let jittered = capped * (1 - jitter * min(1, max(0, random)))
        return .microseconds(Int64((jittered * 1_000_000).rounded()))
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// The duration in whole microseconds.
    var microseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000 + parts.attoseconds / 1_000_000_000_000
    }
}
