import FlowOrchestrator

/// The DAG a stored workflow was run with, for the commands that need its shape (`graph`,
/// `reset`): the shape the library stores with the state (whoever started the workflow), or for
/// a workflow flowctl stored before shapes were kept, its definition file.
enum StoredShape {
    /// The nodes (names and dependencies, in the DAG's order), without their commands.
    static func nodes(_ state: WorkflowState) throws -> [NodeDefinition] {
        guard let shape = state.shape else {
            if state.definition?.isEmpty == false { return try StoredDefinition.load(state).nodes }
            throw CLIError(
                .storeOrData,
                "workflow \(state.tenant)/\(state.id) has no stored definition or DAG shape (a program started it with a version that did not keep the DAG's shape with the state)")
        }
        let names = state.nodes.map(\.name)
        return names.indices.map { index in
            NodeDefinition(name: names[index], run: "", needs: shape.dependencies(ofNode: index).map { names[$0] })
        }
    }

    /// A DAG of the stored shape whose actions never run (for `reset`, which runs nothing); the
    /// DAG's fingerprint must be the stored one.
    static func dag(_ state: WorkflowState) throws -> DAG {
        let nodes = try nodes(state)
        let dag: DAG
        do {
            dag = try DAG(
                nodes: nodes.map { node in
                    DAG.Node(node.name, dependsOn: node.needs) { _ in
                        throw FlowError(.invalidArgument, "node \(node.name) of a stored shape has no action")
                    }
                })
        } catch {
            throw CLIError(.storeOrData, "workflow \(state.tenant)/\(state.id): its stored DAG shape is not a DAG: \(error)")
        }
        guard dag.fingerprint == state.fingerprint else {
            throw CLIError(
                .storeOrData,
                "workflow \(state.tenant)/\(state.id): its stored DAG shape does not match its fingerprint (stored \(state.fingerprint), shape \(dag.fingerprint))")
        }
        return dag
    }
}
