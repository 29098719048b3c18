"""Warm start from an exported ONNX file: load its weights back into the torch module.

``fer-ros-export`` folds every BatchNorm into the convolution before it, so the ONNX file holds one
weight and one bias per convolution and the classifier's ``Gemm``. :func:`load_onnx_weights` walks the
graph's ``Conv`` nodes and the module's ``Conv2d`` layers in the order they run (shapes must agree), puts
the folded weight into the convolution and the folded bias into its BatchNorm (identity statistics), so
the module computes exactly what the file computes. :func:`recalibrate_batchnorm` then moves the
BatchNorm statistics to the ones a data batch produces while keeping the function unchanged, so that
training-mode batch statistics start close to the running ones.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def _conv_bn_pairs(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Every Conv2d in the order a forward pass runs them, with the BatchNorm2d registered after it (if any).

    Run order is the order of an exported graph's nodes (registration order need not be).
    """
    modules = list(model.modules())
    following = {id(m): modules[i + 1] if i + 1 < len(modules) else None for i, m in enumerate(modules)}
    ran: list[nn.Conv2d] = []
    handles = [m.register_forward_hook(lambda mod, _i, _o: ran.append(mod))
               for m in modules if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    order = list(dict.fromkeys(ran))  # a module run twice counts once, where it first ran
    order += [m for m in modules if isinstance(m, nn.Conv2d) and m not in order]
    return [(m, following[id(m)] if isinstance(following[id(m)], nn.BatchNorm2d) else None) for m in order]


def _input_shape(proto) -> tuple[int, ...]:
    """The graph input's shape with a batch of 2 (BatchNorm-free eval run, any batch works)."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return (2,) + tuple(int(d.dim_value) for d in dims[1:])


def load_onnx_weights(model: nn.Module, path: str | Path) -> int:
    """Copy the (BN-folded) weights of an exported ONNX file into ``model``; returns the tensors loaded."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    gemms = [n for n in proto.graph.node if n.op_type in ("Gemm", "MatMul")]
    pairs = _conv_bn_pairs(model, _input_shape(proto))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(convs) != len(pairs) or len(gemms) != len(linears):
        raise ValueError(f"{path}: {len(convs)} Conv / {len(gemms)} Gemm nodes, but the model has {len(pairs)} "
                         f"Conv2d / {len(linears)} Linear layers: not the same architecture")
    loaded = 0
    with torch.no_grad():
        for node, (conv, bn) in zip(convs, pairs):
            weight = inits[node.input[1]]
            bias = inits[node.input[2]] if len(node.input) > 2 else torch.zeros(weight.shape[0])
            if weight.shape != conv.weight.shape:
                raise ValueError(f"{path}: Conv {node.name} weight {tuple(weight.shape)} does not fit "
                                 f"{tuple(conv.weight.shape)}")
            conv.weight.copy_(weight)
            if bn is not None:
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)  # (x - 0) / sqrt(1 - eps + eps) = x
            elif conv.bias is not None:
                conv.bias.copy_(bias)
            elif bias.abs().max() > 0:
                raise ValueError(f"{path}: Conv {node.name} has a bias but the module's conv has none")
            loaded += 2
        for node, linear in zip(gemms, linears):
            weight = inits[node.input[1]]
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            if node.op_type == "MatMul" or not trans_b:
                weight = weight.T
            if weight.shape != linear.weight.shape:
                raise ValueError(f"{path}: {node.op_type} weight {tuple(weight.shape)} does not fit "
                                 f"{tuple(linear.weight.shape)}")
            linear.weight.copy_(weight)
            if linear.bias is not None and len(node.input) > 2:
                linear.bias.copy_(inits[node.input[2]])
            loaded += 2
    return loaded


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor) -> None:
    """Move every BatchNorm's statistics to those of ``x``; scale and shift compensate (same function)."""
    handles = []

    def hook(bn: nn.BatchNorm2d, inputs: tuple[torch.Tensor, ...]) -> None:
        act = inputs[0]
        mean, var = act.mean(dim=(0, 2, 3)), act.var(dim=(0, 2, 3), unbiased=False)
        old_std = torch.sqrt(bn.running_var + bn.eps)
        new_std = torch.sqrt(var + bn.eps)
        bn.bias.add_(bn.weight * (mean - bn.running_mean) / old_std)
        bn.weight.mul_(new_std / old_std)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            handles.append(m.register_forward_pre_hook(hook))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
