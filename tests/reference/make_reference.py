#!/usr/bin/env python3
"""Reference outputs and gradients of a tiny ViT and a tiny Swin, and a forward pass of the full-size Swin-T,
computed by PyTorch (torchvision's own VisionTransformer, SwinTransformer and swin_t), written as C++ literals
to tests/reference/model_reference.h.

The C++ tests (tests/test_models.cpp) rebuild the same models with the same weights and compare logits,
loss and every parameter's gradient (Swin-T: the stage outputs and the logits), without needing PyTorch.
Run from the repository root with Debian's python3-torch and python3-torchvision (about a minute, most of
it filling Swin-T's 28 million weights one math.sin at a time):

    /usr/bin/python3 tests/reference/make_reference.py > tests/reference/model_reference.h

PyTorch's float64 results can differ between machines in the last digit or two (about 1e-15 of a tensor's
largest value: its kernels add in different orders); the tests' tolerances (1e-10, 1e-9) are far above
that. When the Swin-T values were added, the tiny models' values were kept as first generated.

Weights are not random: parameter `name` (timm's name) gets
    w[i] = base + 0.2 * sin(0.37 * i + 0.1 * name_seed(name)),   name_seed = sum of the name's bytes
with base 1 for LayerNorm weights and 0 elsewhere, so C++ can fill them with the same formula. The input
is x[i] = sin(0.13 * i) over the flattened (B, C, H, W) images, and the targets are i % num_classes.
"""
import math
import sys

import torch
import torch.nn.functional as F
from torchvision.models.swin_transformer import SwinTransformer, swin_t
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


def fill_weights(model, names):
    """Every parameter of a torchvision model from the formula, keyed by its timm name."""
    tv_params = dict(model.named_parameters())
    assert set(tv_params) == set(names), sorted(set(tv_params) ^ set(names))
    with torch.no_grad():
        for tv, p in tv_params.items():
            tm = names[tv]
            is_norm_weight = "norm" in tm and tm.endswith(".weight") and p.dim() == 1
            p.copy_(fill(tm, list(p.shape), is_norm_weight))
    return tv_params


def images(batch, channels, image):
    n = batch * channels * image * image
    return torch.tensor([math.sin(0.13 * i) for i in range(n)]).reshape(batch, channels, image, image)


def run(model, names, batch, channels, image, classes):
    tv_params = fill_weights(model, names)
    x = images(batch, channels, image)
    y = torch.tensor([i % classes for i in range(batch)])
    model.eval()  # no dropout; torchvision's models have none at these settings anyway
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = [(names[tv], p.grad) for tv, p in tv_params.items()]
    return logits, loss, grads


def run_swin_t():
    """torchvision's swin_t at 224x224, batch 1: the output of the patch embedding and of each stage, and
    the logits. torchvision puts patch merging at the start of the next stage (features.2, .4, .6); timm's
    layers.s is torchvision's features.(1 + 2s) followed by features.(2 + 2s), the merging."""
    model = swin_t(weights=None)  # its stochastic depth (0.2) is the identity in eval mode
    fill_weights(model, swin_names([2, 2, 6, 2]))
    model.eval()
    x = images(1, 3, 224)
    with torch.no_grad():
        h = model.features[0](x)  # (1, 56, 56, 96): the same memory order as patchgrad's (1, 56*56, 96)
        stages = [("patch_embed", h)]
        for s in range(4):
            h = model.features[1 + 2 * s](h)
            if s < 3:
                h = model.features[2 + 2 * s](h)
            stages.append((f"layers.{s}", h))
        logits = model.head(torch.flatten(model.avgpool(model.permute(model.norm(h))), 1))
        assert torch.equal(logits, model(x)), "the stages do not add up to swin_t's forward"
    return stages, logits


def emit_swin_t(stages, logits):
    print("// Swin-T: each stage's output as (B, H*W, C), its mean and the mean of its absolute values.")
    print("struct StageSummary {\n    std::string name;\n    std::vector<int64_t> shape;\n    double mean;\n"
          "    double abs_mean;\n};\n")
    print("inline const std::vector<StageSummary> swin_t_stages = {")
    for name, h in stages:
        b, height, width, c = h.shape
        print(f'    {{"{name}", {{{b}, {height * width}, {c}}}, {h.mean().item():.17g}, '
              f'{h.abs().mean().item():.17g}}},')
    print("};")
    values = ", ".join(f"{v:.17g}" for v in logits.flatten().tolist())
    print(f"inline const std::vector<double> swin_t_logits = {{{values}}};")


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
          "(torchvision's VisionTransformer, SwinTransformer and swin_t). Do not edit.")
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
    print()
    # Swin-T (torchvision's swin_t): image 224, patch 4, embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24),
    # window 7, MLP ratio 4, 1000 classes, batch 1. Grids 56, 28, 14, 7: the last is one window, no shift.
    emit_swin_t(*run_swin_t())
    print("\n}  // namespace reference")


if __name__ == "__main__":
    sys.exit(main())
