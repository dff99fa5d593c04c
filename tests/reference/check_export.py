#!/usr/bin/env python3
"""Checks `patchgrad export` against PyTorch: the exported weights, read with json + torch alone (no
safetensors package, no timm), loaded into torchvision's VisionTransformer or SwinTransformer through the
timm -> torchvision name map of make_reference.py, must give the class probabilities that
`patchgrad predict --json` prints for the same test image.

Not part of `make test` (it needs Debian's python3-torch and python3-torchvision and a dataset). From the
repository root, after `make`:

    /usr/bin/python3 tests/reference/check_export.py runs/default/best.safetensors --index 7

torchvision's ViT has a CLS token and a learned 1D position embedding only, so a ViT checkpoint must use
--pool cls --pos-embed learned_1d (the defaults). Prints the largest difference; exits 1 above 1e-5.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch
from torch import nn
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import swin_names, vit_names  # noqa: E402  (torchvision name -> timm name)

NORMALIZATION = {"cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
                 "mnist": ([0.1307], [0.3081]), "fashion-mnist": ([0.2860], [0.3530])}


def load_safetensors(path):
    """The docs/interop.md reader: 8-byte header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    dtypes = {"F32": torch.float32, "F64": torch.float64}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, metadata


def test_image(config, index):
    """Test image `index` as (1, C, S, S) floats in [0, 1]."""
    root = config["data"]
    if config["dataset"] == "cifar10":
        with open(os.path.join(root, "cifar-10-batches-bin", "test_batch.bin"), "rb") as f:
            f.seek(index * 3073 + 1)
            raw = f.read(3072)
        return torch.tensor(list(raw), dtype=torch.float32).reshape(1, 3, 32, 32) / 255
    folder = "mnist" if config["dataset"] == "mnist" else "fashion-mnist"
    with open(os.path.join(root, folder, "t10k-images-idx3-ubyte"), "rb") as f:
        f.seek(16 + index * 784)
        raw = f.read(784)
    return torch.tensor(list(raw), dtype=torch.float32).reshape(1, 1, 28, 28) / 255


def torchvision_model(config):
    c = config
    if c["model"] == "vit":
        assert c["pool"] == "cls" and c["pos_embed"] == "learned_1d", "torchvision's ViT: CLS + learned_1d only"
        model = VisionTransformer(image_size=c["image_size"], patch_size=c["patch"], num_layers=c["depth"],
                                  num_heads=c["heads"], hidden_dim=c["dim"], mlp_dim=c["mlp_dim"],
                                  num_classes=c["num_classes"])
        if c["channels"] != 3:  # torchvision hard-codes 3 input channels
            model.conv_proj = nn.Conv2d(c["channels"], c["dim"], c["patch"], c["patch"])
        return model, vit_names(c["depth"])
    model = SwinTransformer(patch_size=[c["patch"], c["patch"]], embed_dim=c["embed_dim"], depths=c["depths"],
                            num_heads=c["swin_heads"], window_size=[c["window"], c["window"]],
                            mlp_ratio=c["mlp_ratio"], stochastic_depth_prob=0.0, num_classes=c["num_classes"])
    if c["channels"] != 3:
        model.features[0][0] = nn.Conv2d(c["channels"], c["embed_dim"], c["patch"], c["patch"])
    return model, swin_names(c["depths"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--patchgrad", default="build/patchgrad")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        exported = os.path.join(tmp, "weights.safetensors")
        subprocess.run([args.patchgrad, "export", args.checkpoint, exported], check=True, stdout=subprocess.DEVNULL)
        tensors, metadata = load_safetensors(exported)
    config = json.loads(metadata["config"])
    classes = json.loads(metadata["class_names"])

    model, names = torchvision_model(config)
    state = {tv: tensors[timm] for tv, timm in names.items()}
    unused = sorted(set(tensors) - set(names.values()))
    assert all(n.endswith("relative_position_index") for n in unused), unused
    model.load_state_dict(state, strict=False)  # strict=False: torchvision keeps its own index buffers
    missing = set(dict(model.named_parameters())) - set(state)
    assert not missing, sorted(missing)
    model.eval()

    mean, std = NORMALIZATION[config["dataset"]]
    x = test_image(config, args.index)
    x = (x - torch.tensor(mean).reshape(1, -1, 1, 1)) / torch.tensor(std).reshape(1, -1, 1, 1)
    with torch.no_grad():
        torch_p = torch.softmax(model(x), -1)[0].tolist()

    out = subprocess.run([args.patchgrad, "predict", "--checkpoint", args.checkpoint, "--index", str(args.index),
                          "--json"], check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)["probabilities"]
    diff = max(abs(ours[name] - p) for name, p in zip(classes, torch_p))
    best = max(range(len(classes)), key=lambda k: torch_p[k])
    print(f"{args.checkpoint}: {config['model']} on {config['dataset']} test image {args.index}: torchvision says "
          f"{classes[best]} ({100 * torch_p[best]:.3f}%), largest probability difference {diff:.2e}")
    return 0 if diff <= 1e-5 and not math.isnan(diff) else 1


if __name__ == "__main__":
    sys.exit(main())
