# How GeluMath's P and Q coefficients (src/GpuConv/Cpu/GeluMath.cs) were fitted: /usr/bin/python3 fit_gelu_coefficients.py
# (needs numpy and mpmath). P(z), z = x*x, fits (Phi(x) - 0.5)/x on |x| < 1; Q(t - centre), t = 1/(a + 2), fits
# Phi(-a)*e^(a*a/2)*(a + 2) on a in [1, 15.6]. Weighted least squares on Chebyshev nodes, reweighted towards the
# largest relative errors (Lawson's iteration, close to minimax); coefficients rounded to float32 one at a time from the
# constant term up, the rest refitted after each rounding. Prints the float32 values and their bits.
import numpy as np, mpmath as mp, sys
mp.mp.dps = 40
X0, NA, NT, C = 1.0, 5, 9, 2.0
AMAX = 15.6
def Pexact(z):  # (Phi(x)-0.5)/x, x = sqrt(z)
    if z == 0: return mp.mpf(1)/mp.sqrt(2*mp.pi)
    x = mp.sqrt(z); return (mp.ncdf(x) - mp.mpf(0.5))/x
def Gexact(a):  # Phi(-a) e^{a^2/2}
    a = mp.mpf(a); return mp.ncdf(-a)*mp.exp(a*a/2)
def fit(f, lo, hi, deg, var, weightrel=True, iters=30):
    # nodes in var-space
    n = 2000
    k = np.arange(n); u = np.cos(np.pi*(k+0.5)/n); v = lo + (hi-lo)*(u+1)/2
    y = np.array([float(f(vi)) for vi in v])
    V = np.vander(v, deg+1, increasing=True)
    fixed = []
    for nf in range(deg+1):
        yr = y - (V[:, :nf] @ np.array(fixed) if nf else 0)
        Vr = V[:, nf:]
        w = np.ones(n)
        for it in range(iters):
            W = w/np.abs(y)
            c, *_ = np.linalg.lstsq(Vr*W[:,None], yr*W, rcond=None)
            err = (Vr@c - yr)/np.abs(y)
            w = w*np.abs(err)**0.5 if it < iters-1 else w
            w /= w.max()
        fixed.append(float(np.float32(c[0])))
    c = np.array(fixed)
    err = (V@c - y)/np.abs(y)
    return c, np.max(np.abs(err))
cP, eP = fit(Pexact, 0.0, X0*X0, NA, 'z')
# tail: G(a) = Q(t)*t, t = 1/(a + C); Q(t) = G/t = G*(a+C)
tlo, thi = 1/(AMAX + C), 1/(X0 + C)
TM = float(np.float32((tlo+thi)/2))
Qf = lambda u: Gexact(1/(u+TM) - C)/(u+TM)
cQ, eQ = fit(Qf, tlo-TM, thi-TM, NT, 'u')
def show(name, c):
    for k, v in enumerate(c):
        v = np.float32(v)
        print('%s%d = %.9g (0x%08X)' % (name, k, v, v.view(np.uint32)))
print('P: max relative error %.3g' % eP); show('P', cP)
print('Q: max relative error %.3g, centre %.9g (0x%08X)' % (eQ, np.float32(TM), np.float32(TM).view(np.uint32))); show('Q', cQ)
