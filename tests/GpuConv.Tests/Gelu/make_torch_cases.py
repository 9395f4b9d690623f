# Writes torch_gelu_cases.json: torch 1.13's CPU gelu (approximate='none' and 'tanh') and its gradient (autograd:
# gelu_backward(dy, x, approximate)) on chosen and random float32 values, as bits, so GeluTorchCasesTests can compare
# without PyTorch. Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch

rng = np.random.default_rng(41)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e-20, -1e-20, 1.0, -1.0, 0.99999994, -0.99999994,
           5.0, -5.0, 10.0, -10.0, 14.0, -14.0, 15.5, -15.5, 20.0, -20.0, 1e6, -1e6, 1e20, -1e20, 3e38, -3e38]
x = np.concatenate([np.array(special, dtype=np.float32),
                    (rng.random(2000, dtype=np.float32) * 2 - 1),
                    rng.standard_normal(1500).astype(np.float32) * 3,
                    (rng.random(1000, dtype=np.float32) * 24 - 12)]).astype(np.float32)
dy = (rng.standard_normal(x.shape) * 3).astype(np.float32)
bits = lambda a: [int(v) for v in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
out = dict(torch=torch.__version__, x=bits(x), dy=bits(dy))
for approximate in ['none', 'tanh']:
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = torch.nn.functional.gelu(t, approximate=approximate)
    y.backward(torch.from_numpy(dy.copy()))
    out[approximate] = bits(y.detach().numpy())
    out[approximate + '_dx'] = bits(t.grad.numpy())
with open('torch_gelu_cases.json', 'w') as f:
    json.dump(out, f, separators=(',', ':'))
print(len(x), 'values, torch', torch.__version__)
