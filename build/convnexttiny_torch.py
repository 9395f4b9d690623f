#!/usr/bin/env python3
"""ConvNeXt-T inference in PyTorch, timed the way samples/GpuConv.Networks (--model convnexttiny) times GpuConv: a peer
of gpu-check.sh's whole-network step (standard library + torch only; no torchvision: the network is built here from torch.nn).

  usage: convnexttiny_torch.py [--batch 1[,8]] [--size 224] [--classes 1000] [--runs 30] [--warmup 5] [--device auto|cuda|cpu] [--seed 50]

The network, as torchvision's convnext_tiny builds it: stem 4x4/4 conv (96) + LayerNorm2d; four stages of 3, 3, 9, 3
blocks at 96, 192, 384, 768 channels, stages 2-4 entered by LayerNorm2d + 2x2/2 conv; a block is depthwise 7x7 (pad 3)
-> permute to channels-last -> LayerNorm (eps 1e-6) -> Linear C -> 4C -> GELU (erf) -> Linear 4C -> C -> permute back
-> layer scale -> added to the block's input (stochastic depth is the identity in eval mode); global average pool,
LayerNorm, Linear 768 -> classes. LayerNorm2d is torchvision's: permute, LayerNorm over channels, permute back.
Random weights (He-uniform convolutions, Linear +-1/sqrt(fan_in)) and LayerNorm affine values and layer scales random
around identity (gamma 0.5-1.0, beta +-0.1; layer scale 0.5-1.0); eval mode. Nothing to fold (no BatchNorm): PyTorch runs
the graph users get from torchvision, GpuConv its own form of the same network (1x1 convolutions for the Linears, layer
scale folded into the second one, GELU fused into the first). Settings, what one timed run is, the float64 check and the
result line ("convnexttiny[torch]: batch 1 median ... ms wall, ...") are torch_network_timing.py's. Without CUDA it runs
on the CPU (its times say "device cpu").
"""
import sys

import torch
from torch import nn

import torch_network_timing as timing

DEPTHS, WIDTHS = (3, 3, 9, 3), (96, 192, 384, 768)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of NCHW: torchvision's (permute to channels-last and back)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1, self.act, self.pwconv2 = nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c)
        self.layer_scale = nn.Parameter(torch.ones(c, 1, 1))

    def forward(self, x):
        h = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        h = self.pwconv2(self.act(self.pwconv1(h))).permute(0, 3, 1, 2)
        return x + self.layer_scale * h


class ConvNeXtTiny(nn.Module):
    def __init__(self, classes):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, WIDTHS[0], 4, 4), LayerNorm2d(WIDTHS[0], eps=1e-6))]
        for s, (depth, c) in enumerate(zip(DEPTHS, WIDTHS)):
            if s > 0:
                layers.append(nn.Sequential(LayerNorm2d(WIDTHS[s - 1], eps=1e-6), nn.Conv2d(WIDTHS[s - 1], c, 2, 2)))
            layers.append(nn.Sequential(*[Block(c) for _ in range(depth)]))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = LayerNorm2d(WIDTHS[-1], eps=1e-6)
        self.classifier = nn.Linear(WIDTHS[-1], classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.norm(self.pool(self.features(x))), 1))


def randomize_norms(model, gen):
    """LayerNorm gamma 0.5-1.0 and beta +-0.1, layer scales 0.5-1.0; conv biases +-1/sqrt(fan_in) (timing.randomize
    draws the weights; it leaves conv biases, which BatchNorm nets do not have, at PyTorch's init)."""
    u = timing.uniform(gen)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(u(m.weight.shape, 0.5, 1.0)); m.bias.copy_(u(m.bias.shape, -0.1, 0.1))
            elif isinstance(m, Block):
                m.layer_scale.copy_(u(m.layer_scale.shape, 0.5, 1.0))
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                bound = 1 / (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]) ** 0.5
                m.bias.copy_(u(m.bias.shape, -bound, bound))


def main():
    args = timing.parse_args("convnexttiny_torch.py", __doc__)
    gen = torch.Generator().manual_seed(args.seed)
    reference = ConvNeXtTiny(args.classes).eval()
    timing.randomize(reference, gen)
    randomize_norms(reference, gen)
    return timing.run("convnexttiny", "ConvNeXt-T", reference, lambda m: m, args, gen, graph="no BatchNorm to fold")


if __name__ == "__main__":
    sys.exit(main())
