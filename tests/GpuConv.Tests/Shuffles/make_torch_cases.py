# Writes torch_shuffle_cases.json: PyTorch's own results for F.pixel_shuffle, F.pixel_unshuffle and
# torch.channel_shuffle and their gradients (autograd), bits of every float, so ShuffleTorchCasesTests can check the engine bit for bit without
# PyTorch (NaN/±Inf/−0/subnormals carried as they are: the values are moved, never computed).
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(16)
special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-40, -3e-39], dtype=np.float32)

def values(shape):
    v = (rng.random(shape, dtype=np.float32) * 8 - 4).astype(np.float32)
    v[v == 0] = 0.5  # never zero, but -0 and the specials below
    mask = rng.random(shape) < 0.05
    v[mask] = rng.choice(special, size=mask.sum())
    return v

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

cases = []

def case(op, shape, r):
    x = torch.from_numpy(values(shape)).requires_grad_(True)
    if op == 'channel':
        # torch 1.13 has no derivative for torch.channel_shuffle: the gradient comes from torchvision's ShuffleNetV2
        # formulation (view, transpose, contiguous), whose forward is checked to be torch.channel_shuffle's bits.
        n, c = shape[0], shape[1]
        y = x.view(n, r, c // r, *shape[2:]).transpose(1, 2).contiguous().view(shape)
        assert torch.equal(y.detach().view(-1).view(torch.int32), torch.channel_shuffle(x.detach(), r).view(-1).view(torch.int32))
    else:
        y = F.pixel_shuffle(x, r) if op == 'shuffle' else F.pixel_unshuffle(x, r)
    dy = torch.from_numpy(values(tuple(y.shape)))
    y.backward(dy)
    cases.append(dict(op=op, shape=list(shape), factor=r, x=bits(x.detach().numpy()), y_shape=list(y.shape),
                      y=bits(y.detach().numpy()), dy=bits(dy.numpy()), dx=bits(x.grad.numpy())))

# ESPCN's last layer (r = 3 from 9 channels), EDSR / Real-ESRGAN's x2 and x4 upsamplers, batches, factor 1 (identity),
# non-square planes; the unshuffles of Real-ESRGAN's x2 / x1 inputs and of odd channel counts.
case('shuffle', (1, 9, 5, 4), 3)
case('shuffle', (2, 8, 3, 5), 2)
case('shuffle', (1, 48, 2, 3), 4)
case('shuffle', (3, 12, 1, 1), 2)
case('shuffle', (2, 5, 3, 2), 1)
case('shuffle', (1, 4, 7, 1), 2)
case('unshuffle', (1, 3, 6, 4), 2)
case('unshuffle', (2, 2, 9, 6), 3)
case('unshuffle', (1, 5, 8, 8), 4)
case('unshuffle', (3, 1, 2, 2), 2)
case('unshuffle', (2, 3, 4, 5), 1)
# ShuffleNet V1 / V2's shuffles (groups 2, 3, 4, 8), a 1-d and a 3-d tensor, groups 1 (identity) and groups = C.
case('channel', (1, 6, 3, 2), 2)
case('channel', (2, 12, 2, 3), 3)
case('channel', (1, 24, 2, 2), 8)
case('channel', (3, 8, 5), 4)
case('channel', (1, 6, 2, 2, 3), 2)
case('channel', (2, 5, 3, 3), 1)
case('channel', (1, 7, 2, 3), 7)

with open('torch_shuffle_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
    f.write('\n')
