#!/usr/bin/env python3
"""ResNet-50 inference in PyTorch, timed the way samples/GpuConv.Networks times GpuConv: the peer of gpu-check.sh's
`resnet50` step (standard library + torch only; no torchvision: the network is built here from torch.nn).

  usage: resnet50_torch.py [--batch 1[,8]] [--size 224] [--classes 1000] [--runs 30] [--warmup 5] [--device auto|cuda|cpu] [--seed 50]

The network: stem 7x7/2 conv (64) + ReLU, max pool 3x3/2 pad 1, bottlenecks [3, 4, 6, 3] (widths 64/128/256/512,
expansion 4, stride on the 3x3 as in ResNet v1.5, 1x1 projection on each stage's first block), global average pool,
fc 2048 -> classes. Random weights (He uniform) and random BatchNorm statistics; eval mode. BatchNorm is FOLDED into
each convolution's weight and bias before timing (as GpuConv's sample does), so both sides run the same graph:
conv + bias, ReLU, residual add, ReLU. Settings, what one timed run is, the float64 check and the result line
("resnet50[torch]: batch 1 median 2.345 ms wall, 2.301 ms events, first 812.3 ms, ...") are torch_network_timing.py's,
shared with mobilenetv2_torch.py. Without CUDA it runs on the CPU (a rehearsal; its times say "device cpu").
"""
import sys

import torch
from torch import nn

import torch_network_timing as timing


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + skip), skip = x or bn(proj(x)); stride on the 3x3."""

    def __init__(self, in_c, width, stride):
        super().__init__()
        out_c = width * 4
        self.conv1, self.bn1 = nn.Conv2d(in_c, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, out_c, 1, bias=False), nn.BatchNorm2d(out_c)
        self.proj = None
        if stride != 1 or in_c != out_c:
            self.proj = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, bias=False), nn.BatchNorm2d(out_c))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        skip = x if self.proj is None else self.proj(x)
        return self.relu(h + skip)


class ResNet50(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, in_c = [], 64
        for width, count, first_stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(count):
                blocks.append(Bottleneck(in_c, width, first_stride if i == 0 else 1))
                in_c = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def randomize(model, gen):
    """timing.randomize, then each block's last BatchNorm scaled down (gamma 0.2-0.5) so the residual sum stays O(1)
    through 16 blocks (as the sample's model)."""
    timing.randomize(model, gen)
    u = timing.uniform(gen)
    with torch.no_grad():
        for b in model.blocks:
            b.bn3.weight.copy_(u(b.bn3.num_features, 0.2, 0.5))


def folded_copy(model):
    """The same network with every BatchNorm folded away (Identity in its place)."""
    fold = timing.fold
    model.stem[0], model.stem[1] = fold(model.stem[0], model.stem[1]), nn.Identity()
    for b in model.blocks:
        b.conv1, b.bn1 = fold(b.conv1, b.bn1), nn.Identity()
        b.conv2, b.bn2 = fold(b.conv2, b.bn2), nn.Identity()
        b.conv3, b.bn3 = fold(b.conv3, b.bn3), nn.Identity()
        if b.proj is not None:
            b.proj = nn.Sequential(fold(b.proj[0], b.proj[1]))
    return model


def main():
    args = timing.parse_args("resnet50_torch.py", __doc__)
    gen = torch.Generator().manual_seed(args.seed)
    reference = ResNet50(args.classes).eval()
    randomize(reference, gen)
    return timing.run("resnet50", "ResNet-50", reference, folded_copy, args, gen)


if __name__ == "__main__":
    sys.exit(main())
