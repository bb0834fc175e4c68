"""Plan layer: the planner over the resource registry, the immutable Plan, its graph, provenance and renderers."""
