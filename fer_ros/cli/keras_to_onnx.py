"""Convert Arriaga's Keras 2 mini-Xception HDF5 file to ONNX with h5py and onnx only (no TensorFlow).

The Keras functional graph stored in the file's ``model_config`` attribute is walked layer by layer:
Conv2D / SeparableConv2D become ONNX Conv nodes (separable = depthwise Conv with group=C, then a 1x1
Conv), every BatchNormalization that follows a convolution is folded into that convolution in float64
(epsilon read from the layer's own config), MaxPooling2D with ``padding="same"`` gets TensorFlow's
asymmetric padding (the extra row/column goes at the end), and the final softmax stays in the graph.

Layout: the ONNX model takes NCHW float32 input ``input`` [N, 1, 64, 64] (already normalised, see
``fer_ros.core.model_registry``) and returns ``probabilities`` [N, 7].
Used by ``fer-ros-models derive``; needs h5py and onnx (build-time tools, not runtime dependencies).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OPSET = 13
IR_VERSION = 7


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (begin, end) along one axis: the odd pixel goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _out_size(size: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


class KerasModel:
    """The parts of a Keras 2 HDF5 model file the converter needs: layer configs, graph, weights."""

    def __init__(self, path: str | Path):
        import h5py

        with h5py.File(path, "r") as f:
            config = json.loads(_as_str(f.attrs["model_config"]))
            self.keras_version = _as_str(f.attrs.get("keras_version", ""))
            self.weights: dict[str, dict[str, np.ndarray]] = {}
            group = f["model_weights"]
            for layer_name in group:
                layer = group[layer_name]
                names = [_as_str(n) for n in layer.attrs.get("weight_names", [])]
                self.weights[layer_name] = {
                    n.split("/")[-1].split(":")[0]: np.asarray(layer[n], dtype=np.float64) for n in names
                }
        cfg = config["config"]
        self.layers: list[dict] = cfg["layers"]
        self.input_layers = [i[0] for i in cfg["input_layers"]]
        self.output_layers = [o[0] for o in cfg["output_layers"]]
        self.by_name = {layer["name"]: layer for layer in self.layers}

    @staticmethod
    def inbound(layer: dict) -> list[str]:
        if not layer["inbound_nodes"]:
            return []
        return [node[0] for node in layer["inbound_nodes"][0]]

    def consumers(self, name: str) -> list[str]:
        return [layer["name"] for layer in self.layers if name in self.inbound(layer)]

    def input_shape(self) -> tuple[int, int, int]:
        shape = self.by_name[self.input_layers[0]]["config"]["batch_input_shape"]
        return int(shape[1]), int(shape[2]), int(shape[3])


def _as_str(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def bn_scale_shift(config: dict, weights: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization in inference mode as y = x * scale + shift (float64)."""
    mean, var = weights["moving_mean"], weights["moving_variance"]
    gamma = weights.get("gamma", np.ones_like(mean)) if config.get("scale", True) else np.ones_like(mean)
    beta = weights.get("beta", np.zeros_like(mean)) if config.get("center", True) else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + float(config["epsilon"]))
    return scale, beta - mean * scale


def convert(h5_path: str | Path, metadata: dict[str, str] | None = None, model_name: str = "model"):
    """Return an ``onnx.ModelProto`` equivalent to the Keras model in ``h5_path``."""
    from onnx import TensorProto, helper, numpy_helper

    km = KerasModel(h5_path)
    height, width, channels = km.input_shape()
    nodes, inits = [], []
    tensor_of: dict[str, str] = {}  # keras layer name -> onnx tensor name of its output
    shape_of: dict[str, tuple[int, int, int]] = {}  # keras layer name -> (C, H, W)
    folded: set[str] = set()

    def add_init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def next_bn(layer_name: str) -> dict | None:
        """The BatchNormalization that is the single consumer of a convolution (to fold), if any."""
        consumers = km.consumers(layer_name)
        if len(consumers) == 1 and km.by_name[consumers[0]]["class_name"] == "BatchNormalization":
            return km.by_name[consumers[0]]
        return None

    def conv(name: str, x: str, w_oihw: np.ndarray, bias: np.ndarray | None, strides, pads, group=1) -> str:
        inputs = [x, add_init(f"{name}.weight", w_oihw)]
        if bias is not None:
            inputs.append(add_init(f"{name}.bias", bias))
        nodes.append(helper.make_node("Conv", inputs, [name], name=name, kernel_shape=list(w_oihw.shape[2:]),
                                      strides=list(strides), pads=list(pads), group=group))
        return name

    def conv_pads(config: dict, h: int, w: int) -> list[int]:
        kh, kw = config["kernel_size"]
        sh, sw = config["strides"]
        if config["padding"] == "valid":
            return [0, 0, 0, 0]
        (pt, pb), (pl, pr) = same_padding(h, kh, sh), same_padding(w, kw, sw)
        return [pt, pl, pb, pr]

    for layer in km.layers:
        name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
        srcs = km.inbound(layer)
        if kind == "InputLayer":
            tensor_of[name] = "input"
            shape_of[name] = (channels, height, width)
            continue
        if name in folded:
            tensor_of[name] = tensor_of[srcs[0]]
            shape_of[name] = shape_of[srcs[0]]
            continue
        x = tensor_of[srcs[0]]
        shp = shape_of[srcs[0]]
        c, h, w = shp if len(shp) == 3 else (shp[0], 1, 1)
        weights = km.weights.get(name, {})
        if kind in ("Conv2D", "SeparableConv2D"):
            if cfg.get("dilation_rate", [1, 1]) not in ([1, 1], (1, 1)):
                raise NotImplementedError(f"{name}: dilation is not supported")
            if cfg.get("activation", "linear") != "linear":
                raise NotImplementedError(f"{name}: fused activation {cfg['activation']} is not supported")
            pads = conv_pads(cfg, h, w)
            kh, kw = cfg["kernel_size"]
            strides = cfg["strides"]
            if kind == "Conv2D":
                kernel = weights["kernel"]  # (kh, kw, in, out)
                w_final = kernel.transpose(3, 2, 0, 1)
            else:
                if cfg.get("depth_multiplier", 1) != 1:
                    raise NotImplementedError(f"{name}: depth_multiplier != 1 is not supported")
                dw = weights["depthwise_kernel"].transpose(2, 3, 0, 1)  # (in, 1, kh, kw)
                x = conv(f"{name}.depthwise", x, dw, None, strides, pads, group=c)
                w_final = weights["pointwise_kernel"].transpose(3, 2, 0, 1)
                strides, pads = (1, 1), [0, 0, 0, 0]
            bias = weights.get("bias") if cfg.get("use_bias", True) else None
            bn = next_bn(name)
            if bn is not None:
                scale, shift = bn_scale_shift(bn["config"], km.weights[bn["name"]])
                w_final = w_final * scale[:, None, None, None]
                bias = shift + (bias * scale if bias is not None else 0.0)
                folded.add(bn["name"])
            tensor_of[name] = conv(name, x, w_final, bias, strides, pads)
            oh = _out_size(h, kh, cfg["strides"][0], cfg["padding"])
            ow = _out_size(w, kw, cfg["strides"][1], cfg["padding"])
            shape_of[name] = (w_final.shape[0], oh, ow)
        elif kind == "BatchNormalization":  # not after a convolution: explicit affine per channel
            scale, shift = bn_scale_shift(cfg, weights)
            s = add_init(f"{name}.scale", scale.reshape(1, -1, 1, 1))
            b = add_init(f"{name}.shift", shift.reshape(1, -1, 1, 1))
            nodes.append(helper.make_node("Mul", [x, s], [f"{name}.mul"], name=f"{name}.mul"))
            nodes.append(helper.make_node("Add", [f"{name}.mul", b], [name], name=name))
            tensor_of[name], shape_of[name] = name, (c, h, w)
        elif kind == "Activation":
            act = cfg["activation"]
            if act == "relu":
                nodes.append(helper.make_node("Relu", [x], [name], name=name))
            elif act == "softmax":
                if len(shp) != 1:
                    raise NotImplementedError(f"{name}: softmax on a spatial tensor")
                nodes.append(helper.make_node("Softmax", [x], [name], name=name, axis=-1))
            else:
                raise NotImplementedError(f"{name}: activation {act}")
            tensor_of[name], shape_of[name] = name, shape_of[srcs[0]]
        elif kind == "MaxPooling2D":
            kh, kw = cfg["pool_size"]
            sh, sw = cfg["strides"]
            if cfg["padding"] == "same":
                (pt, pb), (pl, pr) = same_padding(h, kh, sh), same_padding(w, kw, sw)
            else:
                pt = pb = pl = pr = 0
            nodes.append(helper.make_node("MaxPool", [x], [name], name=name, kernel_shape=[kh, kw],
                                          strides=[sh, sw], pads=[pt, pl, pb, pr]))
            tensor_of[name] = name
            shape_of[name] = (c, _out_size(h, kh, sh, cfg["padding"]), _out_size(w, kw, sw, cfg["padding"]))
        elif kind == "Add":
            nodes.append(helper.make_node("Add", [tensor_of[s] for s in srcs], [name], name=name))
            tensor_of[name], shape_of[name] = name, shp
        elif kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [f"{name}.pool"], name=f"{name}.pool"))
            nodes.append(helper.make_node("Flatten", [f"{name}.pool"], [name], name=name, axis=1))
            tensor_of[name], shape_of[name] = name, (c,)
        else:
            raise NotImplementedError(f"{name}: Keras layer {kind} is not supported")

    out_layer = km.output_layers[0]
    nodes.append(helper.make_node("Identity", [tensor_of[out_layer]], ["probabilities"], name="output"))
    n_out = shape_of[out_layer][0]
    graph = helper.make_graph(
        nodes, model_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
    )
    return finish_model(graph, "fer_ros.keras_to_onnx", metadata)


def finish_model(graph, producer: str, metadata: dict[str, str] | None = None):
    """The checked ONNX model of ``graph`` (opset ``OPSET``, IR ``IR_VERSION``) with ``metadata`` as metadata_props.

    Shared by both converters (this one and ``fer_ros.cli.tflite_to_onnx``), so their files are built alike.
    """
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=producer, producer_version="1")
    model.ir_version = IR_VERSION
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model
