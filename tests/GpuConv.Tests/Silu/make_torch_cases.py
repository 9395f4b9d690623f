# Writes torch_silu_cases.json: PyTorch's own CPU results for F.silu and its gradient (x.grad for a given dy), bits of
# every float, so SiluTorchCasesTests can compare the CPU definition (and so, through the interpreter tests, the
# kernels) with torch without torch. torch's exp is its own (Sleef's on the vectorized path), so the comparison has a
# tolerance; the special values (NaN, +-0, +-inf, the overflow end) must agree exactly.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py  (torch 1.13 wrote the file)
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(29)

def f32(values):
    return np.asarray(values, dtype=np.float32)

special = f32([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 1.17549435e-38, -1.17549435e-38,
               3.4028235e38, -3.4028235e38, 1e30, -1e30, 30.0, -30.0, 16.0, 17.0, 20.0, 100.0, -100.0, 1.0, -1.0, 0.5, -0.5])
# The float32 exp overflow end (e^-x overflows for x <= -88.7228394) and the floats around it.
edge = np.float32(-88.72283935546875)
around_overflow = f32([edge] +
                      [np.float32(edge + np.float32(k) * np.float32(7.62939453125e-06)) for k in range(-4, 5)] +
                      [-88.7, -88.72, -88.73, -88.8, -87.3, -87.0, -89.0, -103.0])
# The gradient's zero crossing (x = -1.27846...) and a band around it.
crossing = f32(np.linspace(-1.2885, -1.2685, 41))
# Every binade in both signs: 8 random mantissas per power of two from 2^-126 to 2^7 (|x| < 256).
binades = []
for e in range(-126, 8):
    m = rng.random(8) + 1.0
    binades.extend(m * 2.0 ** e)
binades = f32(binades)
binades = np.concatenate([binades, -binades])
uniform = f32(rng.random(1200) * 200 - 100)
x = np.concatenate([special, around_overflow, crossing, binades, uniform]).astype(np.float32)
dy = f32(rng.random(x.shape[0]) * 4 - 2)
dy[:len(special)] = np.float32(1.5)  # a plain dy on the special values: the gradient's ends read directly

t = torch.from_numpy(x.copy()).requires_grad_(True)
y = F.silu(t)
y.backward(torch.from_numpy(dy.copy()))

def bits(a):
    return [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]

with open('torch_silu_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, x=bits(x), y=bits(y.detach().numpy()), dy=bits(dy), dx=bits(t.grad.numpy())), f)
print(f'{x.shape[0]} values written with torch {torch.__version__}')
