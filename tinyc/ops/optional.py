"""Optional-value ops on plain tensors: OptionalHasElement, OptionalGetElement.

tinyc has no optional (or sequence) type: a value is a tensor or absent, and which one is
known when the model is compiled. So OptionalHasElement always folds to a constant, and
OptionalGetElement of a tensor is that tensor. Models whose graph inputs are optional-typed
are refused by the frontend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyc.errors import ModelError
from tinyc.ir import DType, Node, TensorType
from tinyc.ops.registry import Alias, MemoryBehavior, OpDef, input_type, register_op

if TYPE_CHECKING:
    from tinyc.backend.context import EmitContext


@register_op
class OptionalHasElement(OpDef):
    """True when the input is given (a tensor), false when absent: known statically."""

    name, min_opset = "OptionalHasElement", 15

    def infer(self, node: Node) -> list[TensorType]:
        return [TensorType(DType.BOOL, ())]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        return [np.array(bool(inputs) and inputs[0] is not None)]

    def fold(self, node: Node) -> list[np.ndarray] | None:
        return [np.array(node.input(0) is not None)]


@register_op
class OptionalGetElement(OpDef):
    """The tensor itself (a view: the planner may share its bytes)."""

    name, min_opset = "OptionalGetElement", 15

    def infer(self, node: Node) -> list[TensorType]:
        if node.input(0) is None:
            raise ModelError(f"OptionalGetElement node '{node.name}': the optional is empty")
        return [input_type(node, 0)]

    def reference(self, node: Node, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        assert inputs[0] is not None
        return [inputs[0].copy()]

    def memory_behavior(self, node: Node) -> list[MemoryBehavior]:
        return [Alias(0, 0)]

    def emit(self, node: Node, ctx: EmitContext) -> None:
        x = node.inputs[0]
        assert x is not None
        ctx.copy(node.outputs[0], x)
