"""Load OpenL3's official Keras ``.h5`` weight files into the torch modules, with h5py only.

A Keras HDF5 weights file lists its layers in ``attrs['layer_names']`` (topological order);
each layer group lists its arrays in ``attrs['weight_names']`` (``conv2d_3/kernel:0``,
``batch_normalization_2/moving_mean:0``, ...). The auto-numbered names differ between Keras
versions (``conv2d_1`` vs ``conv2d``), which is why openl3 itself loads topologically. We do
the same, but check every layer by name and shape: the kind comes from the layer's weight
names (kernel/bias → conv; gamma/beta/moving_mean/moving_variance → batch norm), the order
from ``layer_names``, and the last conv must be the published ``audio_embedding_layer`` /
``vision_embedding_layer``. Conv kernels are converted from Keras [kh, kw, in, out] to torch
[out, in, kh, kw]. Full-model files (``model_weights`` group) are accepted too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from encoders.openl3.model import L3Stack

BN_KEYS = ("gamma", "beta", "moving_mean", "moving_variance")


class OpenL3WeightsError(ValueError):
    """A weights file that is not an OpenL3 Keras file of the expected kind."""


def _decode(names: object) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).tolist()]


def read_keras_layers(path: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(layer name, {short weight name: array}) for every layer that holds weights, in file order."""
    import h5py

    path = Path(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise OpenL3WeightsError(f"{path}: not a readable HDF5 file ({exc})") from exc
    with fh:
        root = fh.get("model_weights", fh)
        if "layer_names" not in root.attrs:
            raise OpenL3WeightsError(f"{path}: no 'layer_names' attribute; not a Keras weights file")
        layers = []
        for name in _decode(root.attrs["layer_names"]):
            group = root[name]
            weight_names = _decode(group.attrs.get("weight_names", []))
            if not weight_names:
                continue
            arrays = {}
            for wn in weight_names:
                short = wn.split("/")[-1].split(":")[0]
                arrays[short] = np.asarray(group[wn])
            layers.append((name, arrays))
    return layers


def load_l3_stack(stack: L3Stack, path: Path, embedding_layer: str) -> None:
    """Copy the file's weights into ``stack``; every mismatch is an error naming layer and shape."""
    path = Path(path)
    layers = read_keras_layers(path)
    targets = stack.weighted_layers()
    if len(layers) != len(targets):
        names = ", ".join(n for n, _ in layers)
        raise OpenL3WeightsError(
            f"{path}: {len(layers)} layers with weights ({names}); an OpenL3 "
            f"{'image' if stack.image else 'audio'} network has {len(targets)}. Is this the right file "
            "(openl3_audio_mel256_<env|music>.h5 / openl3_image_mel256_<env|music>.h5)?"
        )
    last_conv = [n for (n, arrays) in layers if "kernel" in arrays][-1]
    if last_conv != embedding_layer:
        raise OpenL3WeightsError(f"{path}: the last conv layer is {last_conv!r}, expected {embedding_layer!r}")
    with torch.no_grad():
        for (name, arrays), (kind, module) in zip(layers, targets, strict=True):
            if kind == "conv":
                assert isinstance(module, nn.Conv2d)
                if "kernel" not in arrays or "bias" not in arrays:
                    raise OpenL3WeightsError(
                        f"{path}: layer {name!r} should be a conv (kernel, bias), has {sorted(arrays)}"
                    )
                kernel = torch.from_numpy(arrays["kernel"]).permute(3, 2, 0, 1)
                _copy(module.weight, kernel, path, name, "kernel")
                assert module.bias is not None  # the L3 convs all have a bias
                _copy(module.bias, torch.from_numpy(arrays["bias"]), path, name, "bias")
            else:
                assert isinstance(module, nn.BatchNorm2d)
                missing = [k for k in BN_KEYS if k not in arrays]
                if missing:
                    raise OpenL3WeightsError(f"{path}: layer {name!r} should be a batch norm, lacks {missing}")
                _copy(module.weight, torch.from_numpy(arrays["gamma"]), path, name, "gamma")
                _copy(module.bias, torch.from_numpy(arrays["beta"]), path, name, "beta")
                assert module.running_mean is not None and module.running_var is not None
                _copy(module.running_mean, torch.from_numpy(arrays["moving_mean"]), path, name, "moving_mean")
                _copy(module.running_var, torch.from_numpy(arrays["moving_variance"]), path, name, "moving_variance")


def _copy(dst: torch.Tensor, src: torch.Tensor, path: Path, layer: str, what: str) -> None:
    if tuple(dst.shape) != tuple(src.shape):
        raise OpenL3WeightsError(
            f"{path}: layer {layer!r} {what} has shape {tuple(src.shape)}, expected {tuple(dst.shape)}"
        )
    dst.copy_(src.to(dst.dtype))
