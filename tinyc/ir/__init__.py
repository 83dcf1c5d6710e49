"""The tinyc IR: types, SSA values, nodes, graphs, verifier."""

from tinyc.ir.core import Graph, Node, Usage, Value
from tinyc.ir.types import DType, QuantParams, TensorType

__all__ = ["DType", "Graph", "Node", "QuantParams", "TensorType", "Usage", "Value"]
