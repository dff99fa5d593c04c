"""PyTorch's time for each layer of one block of the reference tiny ViT or of the tiny Swin's first stage,
forward and backward apart: the twin of `patchgrad bench --layers` (examples/cli/bench_layers.cpp), with
the same shapes and the same key=value lines, so tests/bench/bench_all.sh can set them side by side.

usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/bench/torch_layers.py --model vit|swin \
           [--batch 128] [--threads 2] [--steps 12] [--warmup 3]
prints: model=vit threads=2 batch=128 layer=linear_qkv in=8320x128 out=8320x384 fwd_ms=1.234 bwd_ms=2.345
        (patchgrad's line goes on with gflop_s= and peak_frac=, its distance to the FMA peak; no twin here)

Each layer is written the way torchvision 0.14's VisionTransformer and SwinTransformer compute it, with
torch's own modules and functions (nn.LayerNorm, nn.Linear, nn.GELU, torch.roll, F.cross_entropy). The
attention is q @ k^T * scale -> softmax -> @ v with the head reshapes (torch 1.13 has no
F.scaled_dot_product_attention), plus the relative position bias (and the shifted-window mask) for Swin,
as torchvision's shifted_window_attention. The mask is built once, as patchgrad builds it once.

What is timed, per layer, after --warmup untimed runs, median over --steps: the forward (the op and the
recording of the graph), then out.backward(probe) with a fixed random probe of out's shape (1 for the
scalar loss): the backward of sum(out * probe). Gradients are dropped between runs (set to None, as
optimizer.zero_grad does), untimed. Every input and parameter requires grad.

Legend: B batch, T tokens (65), C channels, H W the Swin token grid (16 x 16), M window side (4),
N = M*M, nW windows per image (16), nH heads, K classes (10).
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def leaf(*shape, std=1.0):
    return (torch.randn(*shape) * std).requires_grad_()


def module_layer(name, module, x):
    """A torch module applied to a leaf input x; the leaves are x then the module's parameters."""
    return name, [x] + list(module.parameters()), lambda: module(x)


def attention_core(qkv, heads, bias=None, mask=None):
    """torchvision's attention from a packed qkv (B, T, 3C): heads split, scores, softmax, heads merged.
    bias (1, nH, T, T) is added to every window's scores; mask (nW, T, T) to window w mod nW's."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    q, k, v = qkv.reshape(B, T, 3, heads, C // heads).permute(2, 0, 3, 1, 4)  # each (B, nH, T, D)
    attn = q.matmul(k.transpose(-2, -1)) * (C // heads) ** -0.5              # (B, nH, T, T)
    if bias is not None:
        attn = attn + bias
    if mask is not None:
        nW = mask.shape[0]
        attn = attn.view(B // nW, nW, heads, T, T) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, heads, T, T)
    attn = F.softmax(attn, dim=-1)
    return attn.matmul(v).transpose(1, 2).reshape(B, T, C)                    # (B, T, C)


def loss_layer(B, K):
    logits = leaf(B, K)
    labels = torch.randint(0, K, (B,))
    return "cross_entropy", [logits], lambda: F.cross_entropy(logits, labels)


def residual_layer(B, T, C):
    x, y = leaf(B, T, C), leaf(B, T, C)
    return "residual_add", [x, y], lambda: x + y


def vit_layers(B):
    """One ViT block: T = 65, C = 128, 4 heads, MLP 256 (torchvision's EncoderBlock, LayerNorm eps 1e-6)."""
    T, C, heads, hidden, K = 65, 128, 4, 256, 10
    qkv = leaf(B, T, 3 * C)
    return [
        module_layer("layer_norm", nn.LayerNorm(C, eps=1e-6), leaf(B * T, C)),
        module_layer("linear_qkv", nn.Linear(C, 3 * C), leaf(B * T, C)),
        ("attention", [qkv], lambda: attention_core(qkv, heads)),
        module_layer("linear_proj", nn.Linear(C, C), leaf(B * T, C)),
        module_layer("linear_fc1", nn.Linear(C, hidden), leaf(B * T, C)),
        module_layer("gelu", nn.GELU(), leaf(B * T, hidden)),
        module_layer("linear_fc2", nn.Linear(hidden, C), leaf(B * T, hidden)),
        residual_layer(B, T, C),
        loss_layer(B, K),
    ]


def relative_position_index(M):
    """(N*N,) as torchvision's SwinTransformerBlock builds it."""
    coords = torch.flatten(torch.stack(torch.meshgrid(torch.arange(M), torch.arange(M), indexing="ij")), 1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    relative[:, :, 0] += M - 1
    relative[:, :, 1] += M - 1
    relative[:, :, 0] *= 2 * M - 1
    return relative.sum(-1).flatten()


def shifted_window_mask(grid, M, shift):
    """(nW, N, N) of 0 / -100, torchvision's attn_mask of shifted_window_attention."""
    regions = torch.zeros(grid, grid)
    slices = ((0, -M), (-M, -shift), (-shift, None))
    count = 0
    for h in slices:
        for w in slices:
            regions[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    regions = regions.view(grid // M, M, grid // M, M).permute(0, 2, 1, 3).reshape(-1, M * M)
    mask = regions.unsqueeze(1) - regions.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def window_attention_layer(B, grid, C, heads, M, shifted):
    """qkv (B*nW, N, 3C) -> (B*nW, N, C): the bias read from the table, + the mask when shifted."""
    N, nW = M * M, (grid // M) ** 2
    qkv = leaf(B * nW, N, 3 * C)
    table = leaf((2 * M - 1) ** 2, heads, std=0.02)
    index = relative_position_index(M)
    mask = shifted_window_mask(grid, M, M // 2) if shifted else None

    def forward():
        bias = table[index].view(N, N, -1).permute(2, 0, 1).contiguous().unsqueeze(0)  # (1, nH, N, N)
        return attention_core(qkv, heads, bias, mask)

    return ("window_attention_shifted" if shifted else "window_attention"), [qkv, table], forward


def window_partition(x, M):
    B, H, W, C = x.shape
    return x.view(B, H // M, M, W // M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, M * M, C)


def window_reverse(windows, M, H, W):
    B = windows.shape[0] // ((H // M) * (W // M))
    C = windows.shape[-1]
    return windows.view(B, H // M, W // M, M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)


def patch_merging_layer(B, grid, C):
    """torchvision's PatchMerging: 2x2 neighbours -> 4C -> LayerNorm -> Linear(4C, 2C, bias=False)."""
    tokens = leaf(B, grid * grid, C)
    norm, reduction = nn.LayerNorm(4 * C), nn.Linear(4 * C, 2 * C, bias=False)
    nn.init.normal_(reduction.weight, std=0.02)

    def forward():
        x = tokens.view(B, grid, grid, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return reduction(norm(x.view(B, -1, 4 * C)))

    return "patch_merging", [tokens] + list(norm.parameters()) + list(reduction.parameters()), forward


def swin_layers(B):
    """Stage 0 of the tiny Swin: 16 x 16 tokens, C = 64, 2 heads, window 4, shift 2, MLP 128."""
    grid, C, heads, M, hidden, K = 16, 64, 2, 4, 128, 10
    R = B * grid * grid
    grid_x, grid_y = leaf(B, grid, grid, C), leaf(B, grid, grid, C)
    windows = leaf(B * (grid // M) ** 2, M * M, C)
    return [
        module_layer("layer_norm", nn.LayerNorm(C, eps=1e-5), leaf(R, C)),
        ("roll", [grid_x], lambda: torch.roll(grid_x, shifts=(-(M // 2), -(M // 2)), dims=(1, 2))),
        ("window_partition", [grid_y], lambda: window_partition(grid_y, M)),
        module_layer("linear_qkv", nn.Linear(C, 3 * C), leaf(R, C)),
        window_attention_layer(B, grid, C, heads, M, shifted=False),
        window_attention_layer(B, grid, C, heads, M, shifted=True),
        module_layer("linear_proj", nn.Linear(C, C), leaf(R, C)),
        ("window_reverse", [windows], lambda: window_reverse(windows, M, grid, grid)),
        module_layer("linear_fc1", nn.Linear(C, hidden), leaf(R, C)),
        module_layer("gelu", nn.GELU(), leaf(R, hidden)),
        module_layer("linear_fc2", nn.Linear(hidden, C), leaf(R, hidden)),
        residual_layer(B, grid * grid, C),
        patch_merging_layer(B, grid, C),
        loss_layer(B, K),
    ]


def time_layer(leaves, forward, steps, warmup):
    """Median forward and backward milliseconds, and the output's shape."""
    forward_ms, backward_ms, probe = [], [], None
    for i in range(warmup + steps):
        for t in leaves:
            t.grad = None
        t0 = time.perf_counter()
        out = forward()
        t1 = time.perf_counter()
        if probe is None:
            probe = torch.ones(()) if out.dim() == 0 else torch.randn(out.shape)
        out.backward(probe)
        t2 = time.perf_counter()
        if i >= warmup:
            forward_ms.append((t1 - t0) * 1e3)
            backward_ms.append((t2 - t1) * 1e3)
    return statistics.median(forward_ms), statistics.median(backward_ms), tuple(out.shape)


def shape_text(shape):
    return "x".join(str(s) for s in shape) if shape else "scalar"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=["vit", "swin"], default="vit")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers = vit_layers(a.batch) if a.model == "vit" else swin_layers(a.batch)
    for name, leaves, forward in layers:
        fwd, bwd, out_shape = time_layer(leaves, forward, a.steps, a.warmup)
        print(f"model={a.model} threads={a.threads} batch={a.batch} layer={name} "
              f"in={shape_text(tuple(leaves[0].shape))} out={shape_text(out_shape)} "
              f"fwd_ms={fwd:.3f} bwd_ms={bwd:.3f}", flush=True)


if __name__ == "__main__":
    main()
