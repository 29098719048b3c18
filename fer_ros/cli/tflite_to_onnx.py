"""Convert a float TensorFlow Lite model (e.g. MediaPipe's BlazeFace) to ONNX with the ``tflite`` and ``onnx`` packages.

The flatbuffer is read with the ``tflite`` package (generated flatbuffers accessors, no TensorFlow); the one
subgraph is walked operator by operator and each becomes one or a few ONNX nodes. Supported operators:
CONV_2D, DEPTHWISE_CONV_2D, ADD, MUL, PAD, MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, CONCATENATION,
RESIZE_BILINEAR, RELU, RELU6, PRELU, LOGISTIC, TANH and DEQUANTIZE of constant float16 weights (folded into
float32 initialisers, exactly as the TFLite runtime widens them); anything else is a clear error.

Layout: TFLite activations are NHWC; every 4-D activation is kept NCHW in the ONNX graph (weights are
transposed once, TensorFlow "same" padding becomes explicit, possibly asymmetric, pads) and is transposed
back to NHWC only where a RESHAPE flattens it, so the outputs have exactly the TFLite shapes. The input
becomes NCHW ``input`` [N, C, H, W] with a free batch dimension (and free H, W with ``free_size``). The
graph is built in operator order with fixed names, so the same .tflite file always gives the same bytes.
Used by ``fer-ros-models derive``.
"""

from __future__ import annotations

import re

import numpy as np

from fer_ros.cli.keras_to_onnx import finish_model, same_padding

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


class ConversionError(ValueError):
    """The TFLite model uses something this converter does not handle."""


def _tflite():
    try:
        import tflite
    except ImportError as exc:  # derive-time tool, not a runtime dependency
        raise ConversionError("the `tflite` package is needed to read .tflite files: pip install tflite") from exc
    return tflite


def _names(namespace) -> dict[int, str]:
    return {v: k for k, v in vars(namespace).items() if not k.startswith("_") and isinstance(v, int)}


class TFLiteGraph:
    """Tensors, constant buffers and operators of the first subgraph of a .tflite flatbuffer."""

    def __init__(self, data: bytes):
        tfl = _tflite()
        self.tfl = tfl
        self.model = tfl.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise ConversionError(f"expected one subgraph, found {self.model.SubgraphsLength()}")
        self.graph = self.model.Subgraphs(0)
        self.op_names = _names(tfl.BuiltinOperator)
        self.type_names = _names(tfl.TensorType)

    def tensor(self, index: int):
        return self.graph.Tensors(index)

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(v) for v in self.tensor(index).ShapeAsNumpy())

    def name(self, index: int) -> str:
        return self.tensor(index).Name().decode()

    def constant(self, index: int) -> np.ndarray | None:
        """The tensor's data if it is a constant (has a non-empty buffer), else None."""
        t = self.tensor(index)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        dtype = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64}.get(
            self.type_names[t.Type()])
        if dtype is None:
            raise ConversionError(f"constant tensor {self.name(index)} has type {self.type_names[t.Type()]}")
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(index))

    def operators(self):
        """(op name, input indices, output indices, builtin options table) in execution order."""
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            yield (self.op_names.get(builtin, str(builtin)), [int(v) for v in op.InputsAsNumpy()],
                   [int(v) for v in op.OutputsAsNumpy()], op.BuiltinOptions())

    def options(self, table, cls_name: str):
        opts = getattr(self.tfl, cls_name)()
        opts.Init(table.Bytes, table.Pos)
        return opts


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


def convert(data: bytes, metadata: dict[str, str] | None = None, model_name: str = "model",
            free_size: bool = False):
    """ONNX ModelProto of the TFLite flatbuffer ``data`` (float32 graph, NCHW input).

    ``free_size``: the input height and width are left free (``H``, ``W``) for fully convolutional detectors
    whose only RESHAPEs flatten a feature map into rows (BlazeFace: [N, h, w, k * 16] -> [N, h * w * k, 16]).
    The explicit "same" pads are those of the TFLite input size, so other sizes must keep every stride-2
    layer's input even (multiples of the network's total stride) to compute the same function.
    """
    from onnx import TensorProto, helper, numpy_helper

    g = TFLiteGraph(data)
    nodes, inits = [], []
    consts: dict[int, np.ndarray] = {}  # tflite tensor index -> folded constant (float32)
    onnx_name: dict[int, str] = {}  # tflite tensor index -> ONNX value name of the activation
    nchw: dict[int, bool] = {}  # whether that ONNX value is an NCHW copy of a 4-D NHWC TFLite tensor
    counter = iter(range(1 << 30))

    def fresh(stem: str) -> str:
        return f"{_clean(stem)}__{next(counter)}"

    def add_init(stem: str, array: np.ndarray) -> str:
        name = fresh(stem)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], stem: str, **attrs) -> str:
        out = fresh(stem)
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def const(index: int) -> np.ndarray | None:
        if index in consts:
            return consts[index]
        c = g.constant(index)
        if c is not None:
            consts[index] = c.astype(np.float32) if c.dtype == np.float16 else c
        return consts.get(index)

    def value(index: int) -> tuple[str, bool]:
        """ONNX name and layout flag of a TFLite input tensor (constants become initialisers in NCHW)."""
        if index in onnx_name:
            return onnx_name[index], nchw[index]
        c = const(index)
        if c is None:
            raise ConversionError(f"tensor {g.name(index)} is used before it is computed")
        if c.ndim == 4:
            return add_init(g.name(index), c.transpose(NHWC_TO_NCHW)), True
        return add_init(g.name(index), c), False

    def as_channel_operand(index: int, rank4: bool) -> str:
        """A constant operand broadcast against an NCHW activation: [..., C] -> [C, 1, 1]."""
        c = None if index in onnx_name else const(index)
        if c is None or not rank4:
            return value(index)[0]
        if c.ndim == 4:
            return add_init(g.name(index), c.transpose(NHWC_TO_NCHW))
        return add_init(g.name(index), c.reshape(-1, 1, 1) if c.size > 1 else c.reshape(()))

    def activation(x: str, fused: int, stem: str) -> str:
        kind = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}.get(fused, "?")
        if kind is None:
            return x
        if kind == "RELU":
            return node("Relu", [x], stem + "_relu")
        if kind in ("RELU6", "RELU_N1_TO_1"):
            low, high = (0.0, 6.0) if kind == "RELU6" else (-1.0, 1.0)
            bounds = [add_init("low", np.array(low, np.float32)), add_init("high", np.array(high, np.float32))]
            return node("Clip", [x, *bounds], stem + "_clip")
        if kind == "TANH":
            return node("Tanh", [x], stem + "_tanh")
        raise ConversionError(f"fused activation {fused} not supported")

    def set_out(index: int, name: str, is_nchw: bool) -> None:
        onnx_name[index], nchw[index] = name, is_nchw

    def spatial_pads(in_hw, kernel, stride, dilation, padding: int) -> list[int]:
        if padding == 1:  # VALID
            return [0, 0, 0, 0]
        eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
        (t, b), (lft, r) = (same_padding(in_hw[i], eff[i], stride[i]) for i in range(2))
        return [t, lft, b, r]

    graph_inputs = []
    for i in range(g.graph.InputsLength()):
        index = int(g.graph.Inputs(i))
        shape = g.shape(index)
        if len(shape) != 4:
            raise ConversionError(f"input {g.name(index)} has shape {shape}, expected NHWC")
        n, h, w, c = shape
        graph_inputs.append(helper.make_tensor_value_info("input" if i == 0 else _clean(g.name(index)),
                                                          TensorProto.FLOAT, ["N", c, *(("H", "W") if free_size
                                                                                          else (h, w))]))
        set_out(index, graph_inputs[-1].name, True)

    for op, ins, outs, table in g.operators():
        out = outs[0]
        stem = g.name(out)
        if op == "DEQUANTIZE":
            if const(ins[0]) is None:
                raise ConversionError("DEQUANTIZE of an activation (a quantised model) is not supported")
            consts[out] = const(ins[0]).astype(np.float32)
            continue
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, _ = value(ins[0])
            weight = const(ins[1])
            bias = const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            if weight is None:
                raise ConversionError(f"{op} {stem}: weights are not constant")
            depthwise = op == "DEPTHWISE_CONV_2D"
            o = g.options(table, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
            in_shape = g.shape(ins[0])
            if depthwise:  # [1, kh, kw, C * mult] -> [C * mult, 1, kh, kw], group = C
                w_oihw = weight.transpose(3, 0, 1, 2)
                group = in_shape[3]
            else:  # [O, kh, kw, I] -> [O, I, kh, kw]
                w_oihw = weight.transpose(0, 3, 1, 2)
                group = 1
            kernel = w_oihw.shape[2:]
            stride = (o.StrideH(), o.StrideW())
            dilation = (o.DilationHFactor() or 1, o.DilationWFactor() or 1)
            args = [x, add_init(stem + "_w", w_oihw)]
            if bias is not None:
                args.append(add_init(stem + "_b", bias))
            y = node("Conv", args, stem, kernel_shape=list(kernel), strides=list(stride), dilations=list(dilation),
                     group=group, pads=spatial_pads(in_shape[1:3], kernel, stride, dilation, o.Padding()))
            set_out(out, activation(y, o.FusedActivationFunction(), stem), True)
        elif op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            x, _ = value(ins[0])
            o = g.options(table, "Pool2DOptions")
            kernel, stride = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            pads = spatial_pads(g.shape(ins[0])[1:3], kernel, stride, (1, 1), o.Padding())
            extra = {} if op == "MAX_POOL_2D" else {"count_include_pad": 0}
            y = node("MaxPool" if op == "MAX_POOL_2D" else "AveragePool", [x], stem, kernel_shape=list(kernel),
                     strides=list(stride), pads=pads, **extra)
            set_out(out, activation(y, o.FusedActivationFunction(), stem), True)
        elif op in ("ADD", "MUL"):
            rank4 = len(g.shape(out)) == 4
            o = g.options(table, "AddOptions" if op == "ADD" else "MulOptions")
            y = node("Add" if op == "ADD" else "Mul", [as_channel_operand(i, rank4) for i in ins[:2]], stem)
            set_out(out, activation(y, o.FusedActivationFunction(), stem), rank4)
        elif op == "PAD":
            x, is_nchw = value(ins[0])
            pads = const(ins[1])
            if pads is None:
                raise ConversionError(f"PAD {stem}: paddings are not constant")
            pads = pads.astype(np.int64)
            if is_nchw:
                pads = pads[list(NHWC_TO_NCHW)]
            y = node("Pad", [x, add_init(stem + "_pads", np.concatenate([pads[:, 0], pads[:, 1]]))], stem)
            set_out(out, y, is_nchw)
        elif op == "RESHAPE":
            x, is_nchw = value(ins[0])
            if is_nchw:
                x = node("Transpose", [x], stem + "_nhwc", perm=list(NCHW_TO_NHWC))
            target = np.array(g.shape(out), np.int64)
            target[0] = 0  # keep the batch dimension of the input (free batch size)
            if free_size and len(target) == 3 and is_nchw:
                target[1] = -1  # [N, H * W * k, C]: as many rows as the input size gives
            elif free_size:
                raise ConversionError(f"RESHAPE {stem} to {g.shape(out)} cannot follow a free input size")
            y = node("Reshape", [x, add_init(stem + "_shape", target)], stem)
            if len(target) == 4:
                y = node("Transpose", [y], stem + "_nchw", perm=list(NHWC_TO_NCHW))
            set_out(out, y, len(target) == 4)
        elif op == "CONCATENATION":
            o = g.options(table, "ConcatenationOptions")
            parts = [value(i) for i in ins]
            rank = len(g.shape(out))
            axis = o.Axis() % rank
            is_nchw = rank == 4 and all(p[1] for p in parts)
            if is_nchw:
                axis = NHWC_TO_NCHW.index(axis)
            y = node("Concat", [p[0] for p in parts], stem, axis=axis)
            set_out(out, activation(y, o.FusedActivationFunction(), stem), is_nchw)
        elif op == "RESIZE_BILINEAR":
            x, _ = value(ins[0])
            o = g.options(table, "ResizeBilinearOptions")
            (_, h, w, _), (_, oh, ow, _) = g.shape(ins[0]), g.shape(out)
            mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
            scales = add_init(stem + "_scales", np.array([1, 1, oh / h, ow / w], np.float32))
            y = node("Resize", [x, "", scales], stem, mode="linear", coordinate_transformation_mode=mode)
            set_out(out, y, True)
        elif op in ("RELU", "RELU6", "LOGISTIC", "TANH"):
            x, is_nchw = value(ins[0])
            if op == "RELU6":
                y = activation(x, 3, stem)
            else:
                y = node({"RELU": "Relu", "LOGISTIC": "Sigmoid", "TANH": "Tanh"}[op], [x], stem)
            set_out(out, y, is_nchw)
        elif op == "PRELU":
            x, is_nchw = value(ins[0])
            y = node("PRelu", [x, as_channel_operand(ins[1], is_nchw)], stem)
            set_out(out, y, is_nchw)
        else:
            raise ConversionError(f"TFLite operator {op} (output {stem}) is not supported by this converter")

    graph_outputs = []
    for i in range(g.graph.OutputsLength()):
        index = int(g.graph.Outputs(i))
        name, is_nchw = value(index)
        if is_nchw:
            name = node("Transpose", [name], g.name(index) + "_nhwc", perm=list(NCHW_TO_NHWC))
        out_name = _clean(g.name(index))
        nodes.append(helper.make_node("Identity", [name], [out_name], name=out_name + "_out"))
        shape = list(g.shape(index))
        if free_size and len(shape) == 3:
            shape[1] = "A"
        graph_outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", *shape[1:]]))

    graph = helper.make_graph(nodes, model_name, graph_inputs, graph_outputs, initializer=inits)
    return finish_model(graph, "fer_ros.tflite_to_onnx", metadata)
