#!/usr/bin/env python3
"""Reference outputs and gradients of a tiny ViT and a tiny Swin, computed by PyTorch (torchvision's own
VisionTransformer and SwinTransformer), written as C++ literals to tests/reference/model_reference.h.

The C++ tests (tests/test_models.cpp) rebuild the same models with the same weights and compare logits,
loss and every parameter's gradient, without needing PyTorch. Run from the repository root with Debian's
python3-torch and python3-torchvision:

    /usr/bin/python3 tests/reference/make_reference.py > tests/reference/model_reference.h

Weights are not random: parameter `name` (timm's name) gets
    w[i] = base + 0.2 * sin(0.37 * i + 0.1 * name_seed(name)),   name_seed = sum of the name's bytes
with base 1 for LayerNorm weights and 0 elsewhere, so C++ can fill them with the same formula. The input
is x[i] = sin(0.13 * i) over the flattened (B, C, H, W) images, and the targets are i % num_classes.
"""
import math
import sys

import torch
import torch.nn.functional as F
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.vision_transformer import VisionTransformer

torch.set_default_dtype(torch.float64)


def name_seed(name):
    return sum(name.encode())


def fill(name, shape, is_norm_weight):
    n = math.prod(shape)
    base = 1.0 if is_norm_weight else 0.0
    values = [base + 0.2 * math.sin(0.37 * i + 0.1 * name_seed(name)) for i in range(n)]
    return torch.tensor(values).reshape(shape)


def vit_names(depth):
    """torchvision name -> timm name for the ViT."""
    names = {
        "class_token": "cls_token",
        "conv_proj.weight": "patch_embed.proj.weight",
        "conv_proj.bias": "patch_embed.proj.bias",
        "encoder.pos_embedding": "pos_embed",
        "encoder.ln.weight": "norm.weight",
        "encoder.ln.bias": "norm.bias",
        "heads.head.weight": "head.weight",
        "heads.head.bias": "head.bias",
    }
    for i in range(depth):
        tv, tm = f"encoder.layers.encoder_layer_{i}.", f"blocks.{i}."
        names.update({
            tv + "ln_1.weight": tm + "norm1.weight", tv + "ln_1.bias": tm + "norm1.bias",
            tv + "self_attention.in_proj_weight": tm + "attn.qkv.weight",
            tv + "self_attention.in_proj_bias": tm + "attn.qkv.bias",
            tv + "self_attention.out_proj.weight": tm + "attn.proj.weight",
            tv + "self_attention.out_proj.bias": tm + "attn.proj.bias",
            tv + "ln_2.weight": tm + "norm2.weight", tv + "ln_2.bias": tm + "norm2.bias",
            tv + "mlp.0.weight": tm + "mlp.fc1.weight", tv + "mlp.0.bias": tm + "mlp.fc1.bias",
            tv + "mlp.3.weight": tm + "mlp.fc2.weight", tv + "mlp.3.bias": tm + "mlp.fc2.bias",
        })
    return names


def swin_names(depths):
    """torchvision name -> timm name for the Swin (downsample at the end of a stage, timm's older layout)."""
    names = {
        "features.0.0.weight": "patch_embed.proj.weight", "features.0.0.bias": "patch_embed.proj.bias",
        "features.0.2.weight": "patch_embed.norm.weight", "features.0.2.bias": "patch_embed.norm.bias",
        "norm.weight": "norm.weight", "norm.bias": "norm.bias",
        "head.weight": "head.weight", "head.bias": "head.bias",
    }
    for s, depth in enumerate(depths):
        stage = 1 + 2 * s
        for j in range(depth):
            tv, tm = f"features.{stage}.{j}.", f"layers.{s}.blocks.{j}."
            for a, b in [("norm1", "norm1"), ("norm2", "norm2"), ("attn.qkv", "attn.qkv"),
                         ("attn.proj", "attn.proj"), ("mlp.0", "mlp.fc1"), ("mlp.3", "mlp.fc2")]:
                names[tv + a + ".weight"] = tm + b + ".weight"
                names[tv + a + ".bias"] = tm + b + ".bias"
            names[tv + "attn.relative_position_bias_table"] = tm + "attn.relative_position_bias_table"
        if s + 1 < len(depths):
            tv, tm = f"features.{stage + 1}.", f"layers.{s}.downsample."
            names[tv + "norm.weight"] = tm + "norm.weight"
            names[tv + "norm.bias"] = tm + "norm.bias"
            names[tv + "reduction.weight"] = tm + "reduction.weight"
    return names


def run(model, names, batch, channels, image, classes):
    tv_params = dict(model.named_parameters())
    assert set(tv_params) == set(names), sorted(set(tv_params) ^ set(names))
    with torch.no_grad():
        for tv, p in tv_params.items():
            tm = names[tv]
            is_norm_weight = "norm" in tm and tm.endswith(".weight") and p.dim() == 1
            p.copy_(fill(tm, list(p.shape), is_norm_weight))
    n = batch * channels * image * image
    x = torch.tensor([math.sin(0.13 * i) for i in range(n)]).reshape(batch, channels, image, image)
    y = torch.tensor([i % classes for i in range(batch)])
    model.eval()  # no dropout; torchvision's models have none at these settings anyway
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = [(names[tv], p.grad) for tv, p in tv_params.items()]
    return logits, loss, grads


def emit(prefix, logits, loss, grads):
    def values(t):
        return ", ".join(f"{v:.17g}" for v in t.detach().flatten().tolist())
    print(f"inline const std::vector<double> {prefix}_logits = {{{values(logits)}}};")
    print(f"inline const double {prefix}_loss = {loss.item():.17g};")
    print(f"inline const std::vector<ReferenceTensor> {prefix}_grads = {{")
    for name, g in grads:
        shape = ", ".join(str(s) for s in g.shape)
        print(f'    {{"{name}", {{{shape}}}, {{{values(g)}}}}},')
    print("};")


def main():
    print("// Generated by tests/reference/make_reference.py with PyTorch", torch.__version__,
          "(torchvision's VisionTransformer and SwinTransformer). Do not edit.")
    print("#pragma once\n#include <cstdint>\n#include <string>\n#include <vector>\n")
    print("namespace reference {\n")
    print("struct ReferenceTensor {\n    std::string name;\n    std::vector<int64_t> shape;\n"
          "    std::vector<double> values;\n};\n")
    # ViT: image 8, patch 4 (4 patches + CLS), dim 8, depth 2, heads 2, MLP 16, 3 classes, batch 2.
    torch.manual_seed(0)
    vit = VisionTransformer(image_size=8, patch_size=4, num_layers=2, num_heads=2, hidden_dim=8, mlp_dim=16,
                            num_classes=3)
    emit("vit", *run(vit, vit_names(2), batch=2, channels=3, image=8, classes=3))
    print()
    # Swin: image 16, patch 2 (8x8 tokens), embed 8, depths (2, 2), heads (2, 4), window 4, MLP ratio 2,
    # 3 classes, batch 2. Stage 0 (8x8) has 4 windows and a shift of 2: the mask matters. Stage 1 (4x4)
    # is covered by one window: no shift.
    swin = SwinTransformer(patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                           mlp_ratio=2.0, stochastic_depth_prob=0.0, num_classes=3)
    emit("swin", *run(swin, swin_names([2, 2]), batch=2, channels=3, image=16, classes=3))
    print("\n}  // namespace reference")


if __name__ == "__main__":
    sys.exit(main())
