"""A networkx view of the IR for graph algorithms (scheduling, dominance, cycles)."""

from __future__ import annotations

import networkx as nx

from tinyc.ir.core import Graph


def to_networkx(graph: Graph) -> nx.DiGraph:
    """Nodes are IR node positions; an edge u -> v carries the values u passes to v."""
    dag = nx.DiGraph()
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    for i, node in enumerate(graph.nodes):
        dag.add_node(i, op=node.op, name=node.name)
    for i, node in enumerate(graph.nodes):
        for value in node.inputs:
            if value is not None and value.producer is not None:
                src = position[id(value.producer)]
                if dag.has_edge(src, i):
                    dag.edges[src, i]["values"].append(value.name)
                else:
                    dag.add_edge(src, i, values=[value.name])
    return dag
