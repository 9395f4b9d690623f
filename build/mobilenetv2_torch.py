#!/usr/bin/env python3
"""MobileNetV2 inference in PyTorch, timed the way samples/GpuConv.Networks (--model mobilenetv2) times GpuConv: the peer
of gpu-check.sh's whole-network step (standard library + torch only; no torchvision: the network is built here from torch.nn).

  usage: mobilenetv2_torch.py [--batch 1[,8]] [--size 224] [--classes 1000] [--runs 30] [--warmup 5] [--device auto|cuda|cpu] [--seed 50]

The network (torchvision's mobilenet_v2, width 1.0): stem 3x3/2 conv (32) + BN + ReLU6; inverted residual blocks
(t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), each expand 1x1 + BN +
ReLU6 (absent when t = 1), depthwise 3x3 stride s pad 1 + BN + ReLU6, project 1x1 + BN (linear), the input added when
stride 1 and in == out; last 1x1 conv 1280 + BN + ReLU6, global average pool, classifier 1280 -> classes (dropout is
the identity in eval mode). Random weights (He uniform) and random BatchNorm statistics; eval mode. BatchNorm is FOLDED
into each convolution's weight and bias before timing (as GpuConv's sample does), so both sides run the same graph.
Settings, what one timed run is, the float64 check and the result line ("mobilenetv2[torch]: batch 1 median ... ms wall,
...") are torch_network_timing.py's, shared with resnet50_torch.py. Without CUDA it runs on the CPU (its times say "device cpu").
"""
import sys

import torch
from torch import nn

import torch_network_timing as timing

SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def conv_bn(in_c, out_c, k, stride=1, groups=1, relu6=True):
    """conv (no bias, padding k//2) + BatchNorm (+ ReLU6): torchvision's Conv2dNormActivation, or the linear projection."""
    layers = [nn.Conv2d(in_c, out_c, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(out_c)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if relu6 else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, in_c, out_c, stride, t):
        super().__init__()
        hidden = in_c * t
        self.expand = conv_bn(in_c, hidden, 1) if t != 1 else nn.Identity()
        self.depthwise = conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self.project = conv_bn(hidden, out_c, 1, relu6=False)
        self.residual = stride == 1 and in_c == out_c

    def forward(self, x):
        h = self.project(self.depthwise(self.expand(x)))
        return x + h if self.residual else h


class MobileNetV2(nn.Module):
    def __init__(self, classes):
        super().__init__()
        blocks, in_c = [conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in SETTING:
            for i in range(n):
                blocks.append(InvertedResidual(in_c, c, s if i == 0 else 1, t))
                in_c = c
        blocks.append(conv_bn(in_c, 1280, 1))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(1280, classes)   # torchvision: Dropout(0.2) first, the identity in eval mode

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def folded_copy(model):
    """The same network with every BatchNorm folded away (Identity in its place)."""
    for m in model.modules():
        if isinstance(m, nn.Sequential) and len(m) >= 2 and isinstance(m[0], nn.Conv2d) and isinstance(m[1], nn.BatchNorm2d):
            m[0], m[1] = timing.fold(m[0], m[1]), nn.Identity()
    return model


def main():
    args = timing.parse_args("mobilenetv2_torch.py", __doc__)
    gen = torch.Generator().manual_seed(args.seed)
    reference = MobileNetV2(args.classes).eval()
    timing.randomize(reference, gen)
    return timing.run("mobilenetv2", "MobileNetV2", reference, folded_copy, args, gen)


if __name__ == "__main__":
    sys.exit(main())
