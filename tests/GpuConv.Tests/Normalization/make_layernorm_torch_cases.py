# Writes torch_layernorm_cases.json: PyTorch's own CPU results for the channels-first LayerNorm (timm's LayerNorm2d,
# ConvNeXt's LayerNorm(data_format="channels_first")) - F.layer_norm over C of x with the channel dimension moved
# last (x.permute(0, 2, 3, 1) for 2-d), moved back - forward y, native_layer_norm's mean and rstd, and the backward
# (x, weight and bias grads for a random dy, through autograd) - bits of every float, so
# ChannelLayerNormTorchCasesTests can check the engine without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_layernorm_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(23)

def values(shape, offset=0.0, scale=1.0):
    v = (rng.random(shape, dtype=np.float32) * 2 - 1) * scale + offset
    v[v == 0] = 0.5  # never zero
    return v.astype(np.float32)

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

def channels_last(t):
    return t.movedim(1, -1)

def channels_first(t):
    return t.movedim(-1, 1)

cases = []
def add(shape, eps=1e-6, affine=True, offset=0.0, scale=1.0):
    c = shape[1]
    x = values(shape, offset, scale)
    weight = values((c,), 1.0, 0.5) if affine else None
    bias = values((c,), 0.0, 0.5) if affine else None
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    w = torch.from_numpy(weight.copy()).requires_grad_(True) if affine else None
    b = torch.from_numpy(bias.copy()).requires_grad_(True) if affine else None
    y = channels_first(F.layer_norm(channels_last(t), (c,), w, b, eps))
    with torch.no_grad():
        y2, mean, rstd = torch.ops.aten.native_layer_norm(channels_last(torch.from_numpy(x.copy())), [c], w, b, eps)
    assert torch.equal(y.detach(), channels_first(y2))
    dy = values(tuple(y.shape), 0.0, 1.0)
    y.backward(torch.from_numpy(dy.copy()))
    cases.append(dict(shape=list(shape), eps=eps, affine=affine,
                      x=bits(x), weight=bits(weight) if affine else None, bias=bits(bias) if affine else None,
                      y=bits(y.detach().numpy()), mean=bits(mean.squeeze(-1).numpy()), rstd=bits(rstd.squeeze(-1).numpy()),
                      dy=bits(dy), dx=bits(t.grad.numpy()),
                      dweight=bits(w.grad.numpy()) if affine else None, dbias=bits(b.grad.numpy()) if affine else None))

# [N, C] and 1-3 spatial dimensions; C = 1; eps variants; affine=False; large offsets (variance cancellation).
add((4, 6))
add((3, 5, 7))
add((2, 8, 5, 6))
add((2, 6, 4, 5, 6), eps=1e-5)
add((3, 1, 4, 5))                             # C = 1: variance 0, y = bias
add((2, 1, 7))                                # C = 1, one spatial dimension
add((2, 12, 6, 7), affine=False)
add((2, 16, 5, 6), offset=1000.0)             # x + 1000: the mean dwarfs the spread
add((2, 8, 5, 5), offset=1000.0, scale=0.01, eps=1e-5, affine=False)
add((1, 96, 3, 4))                            # a ConvNeXt stem width
add((2, 4, 17, 19), eps=1e-5)                 # positions beyond 256: the affine sums' partial wraps
with open('torch_layernorm_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases')
