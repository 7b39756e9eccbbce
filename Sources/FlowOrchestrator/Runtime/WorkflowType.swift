import Foundation

/// A kind of workflow a ``WorkflowRuntime`` can run: a name, a version, and how a workflow's
/// input becomes its DAG.
///
/// Several versions of one name may be registered side by side. A workflow records the name
/// and version it was started with (durably, in its run record), and every later run of it,
/// in any process, builds its DAG with that same version; a process that does not have it
/// leaves the workflow where it is (``StrandedWorkflow``).
public struct WorkflowType: Sendable {
    /// The type's name, following the naming rules of workflow IDs.
    public let name: String
    /// The type's version; a larger number is newer.
    public let version: Int
    /// Builds the plan of one workflow from what is stored with it.
    public let build: @Sendable (WorkflowBuildInput) throws -> WorkflowPlan

    /// A type whose plan depends on everything stored with the workflow.
    public init(name: String, version: Int = 1, plan: @escaping @Sendable (WorkflowBuildInput) throws -> WorkflowPlan) {
        self.name = name
        self.version = version
        self.build = plan
    }

    /// A function from a workflow's input to its DAG.
    public typealias DAGBuilder = @Sendable (Data) throws -> DAG

    /// A type whose DAG is a function of the workflow's input alone.
    public init(name: String, version: Int = 1, dag: @escaping DAGBuilder) {
        self.init(name: name, version: version) { input in WorkflowPlan(dag: try dag(input.input)) }
    }

    /// `name@version`, as messages and the run record's readers show it.
    public var label: String { "\(name)@\(version)" }
}

/// What a ``WorkflowType`` builds a workflow's plan from: what is stored with the workflow.
public struct WorkflowBuildInput: Sendable {
    /// The workflow.
    public var key: WorkflowKey
    /// The input given to ``WorkflowRuntime/start(_:version:id:tenant:input:definition:queue:priority:notBefore:)``.
    public var input: Data
    /// The opaque definition stored with the workflow (flowctl stores the definition file).
    public var definition: Data?
    /// True when this process claimed the workflow and runs the plan next (a previous owner
    /// may have died: the place to stop what it left behind); false when
    /// ``WorkflowRuntime/start(_:version:id:tenant:input:definition:queue:priority:notBefore:)``
    /// builds the plan only to check it and record its nodes.
    public var claimed: Bool

    /// An input with every field given.
    public init(key: WorkflowKey, input: Data, definition: Data?, claimed: Bool) {
        self.key = key
        self.input = input
        self.definition = definition
        self.claimed = claimed
    }
}

/// What one run of a workflow executes: its DAG, and how wide it may run.
public struct WorkflowPlan: Sendable {
    /// The nodes.
    public var dag: DAG
    /// The most nodes running at once; nil for the runtime's ``RuntimeOptions/execution`` value.
    public var maxConcurrency: Int?
    /// Called once when the run ends (completed, failed, cancelled or interrupted), to free what
    /// the plan holds (temporary files).
    public var onEnd: (@Sendable () -> Void)?
    /// Called once in a claimed run, before its first node action starts, while the run holds
    /// the workflow's writer (so no other process runs it): the place to stop what a dead
    /// previous owner left running. Node actions wait for it; keep it short.
    public var beforeNodes: (@Sendable () -> Void)?

    /// A plan with every field given.
    public init(
        dag: DAG, maxConcurrency: Int? = nil, onEnd: (@Sendable () -> Void)? = nil,
        beforeNodes: (@Sendable () -> Void)? = nil
    ) {
        self.dag = dag
        self.maxConcurrency = maxConcurrency
        self.onEnd = onEnd
        self.beforeNodes = beforeNodes
    }
}

/// A workflow the claim loop found and left where it is, and why (an unknown type or version,
/// a plan that cannot be built).
public struct StrandedWorkflow: Sendable, Equatable {
    /// The workflow.
    public var key: WorkflowKey
    /// The queue it waits in.
    public var queue: String
    /// The type and version it was started with.
    public var type: String
    public var version: Int
    /// Why this process does not run it.
    public var reason: String
}
