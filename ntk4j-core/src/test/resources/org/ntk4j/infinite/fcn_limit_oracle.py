"""Writes fcn_limit_oracle.txt, the float64 oracle of FcnLimitOracleTest: the infinite-width NNGP and NTK of the zoo's
fcn (flatten, depth x (dense(width), act), dense(out)) written from closed forms and its own quadrature, independently
of ntk4j's Java:

    python3 fcn_limit_oracle.py > fcn_limit_oracle.txt     (numpy, and torch for erf in gelu)

Whole Gram matrices at once (ntk4j recurses one pair at a time), the layer recursions as neural-tangents' stax
Dense/Relu/Erf/LeakyRelu kernel_fn define them:
    input kernel        K = x.x'/d                               (stax's normalised input covariance)
    Dense, NTK param.   K <- W_std^2 K + b_std^2,   T <- K_new + W_std^2 T        (T starts at 0)
    Dense, standard     T <- fan_in K + [b] + W_std^2 T,   then K <- W_std^2 K + b_std^2   ([b] = 1 with a bias)
    Relu (Cho & Saul)   K <- sqrt(k k')/(2 pi) (sin t + (pi - t) cos t),  T <- T (pi - t)/(2 pi),  t = arccos(K/sqrt(k k'))
    Erf (Williams)      K <- 2/pi arcsin(2K/sqrt((1+2k)(1+2k'))),  T <- T 4/pi / sqrt((1+2k)(1+2k') - 4K^2)
    leaky_relu, alpha   (the spec's slope, 0.01 when not given; the cases 0.2 and 0 last)
                        phi = alpha x + (1 - alpha) relu(x):  K <- alpha K + (1 - alpha)^2 relu's K (the cross terms
                        E[u relu(v)] = K/2), T <- T (alpha + (1 - alpha)^2 relu's derivative term); identity: alpha = 1
    tanh, sigmoid, softplus, gelu (x Phi(x)), sin: no closed form used here, E[phi(u) phi(v)] and E[phi'(u) phi'(v)]
                        by a uniform trapezoidal rule over (z1, z2) in [-9, 9]^2 with step 0.02 (u = l11 z1,
                        v = l21 z1 + l22 z2, the Cholesky factor): for these analytic integrands, with singularities
                        at least 0.16 from the real z axis at the variances here (at most 90; tanh's poles are pi/2
                        from the real u axis), the discretisation error ~exp(-2 pi 0.16/0.02) is below 1e-21 and the
                        tails beyond 9 standard deviations 1e-18;
                        checked against numpy's Gauss-Hermite rule of order 150 (hermgauss) at moderate covariances,
                        where that rule converges, to 1e-14
with k, k' the variances of the two inputs. Inputs at the edges of arccos: identical, antipodal and parallel rows,
a zero row (variance 0 without biases: relu gives 0 and relu'(0) = 0), a tiny row, and x1 != x2 (rectangular).
Identical inputs have correlation c = 1 at every layer, which the oracle keeps exactly (computing c = 1 from rounded
covariances would leave arccos an error of about 1e-8). Per case: the kernels of x1 against x2 [7, 4] and against
itself [7, 7], each NNGP then NTK, and the diagonals of x2's own kernels (the scale of its entries).
"""
import math

import numpy as np
import torch


def relu(K, k1, k2, T, same):
    norms = np.sqrt(np.outer(k1, k2))
    safe = np.where(norms > 0, norms, 1.0)
    c = np.where(same, 1.0, np.clip(K / safe, -1.0, 1.0))
    t = np.arccos(c)
    Kn = np.where(norms > 0, norms / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t)), 0.0)
    dot = np.where(norms > 0, (np.pi - t) / (2 * np.pi), 0.0)
    return Kn, k1 / 2, k2 / 2, T * dot


def erf(K, k1, k2, T, same):
    a = 1 + 2 * k1
    b = 1 + 2 * k2
    Kn = 2 / np.pi * np.arcsin(np.clip(2 * K / np.sqrt(np.outer(a, b)), -1, 1))
    dot = 4 / np.pi / np.sqrt(np.outer(a, b) - 4 * K ** 2)
    return Kn, 2 / np.pi * np.arcsin(2 * k1 / a), 2 / np.pi * np.arcsin(2 * k2 / b), T * dot


ALPHA = 0.01  # the zoo's leaky_relu slope when its option slope is not given


def leaky(K, k1, k2, T, same, alpha):
    Kr, _, _, dr = relu(K, k1, k2, np.ones_like(T), same)  # relu's E[relu(u) relu(v)] and E[relu' relu']
    s = (1 - alpha) ** 2
    # E[phi(u)^2] = alpha^2 k + 2 alpha (1 - alpha) k/2 + (1 - alpha)^2 k/2 = (alpha^2 + 1) k/2
    k1n = (alpha ** 2 + 1) / 2 * k1
    k2n = (alpha ** 2 + 1) / 2 * k2
    nonzero = np.outer(k1 > 0, k2 > 0)
    # u or v is 0: phi'(0) = alpha (the autodiff's tie rule), E[phi'] = (alpha + 1)/2 for the other if it varies
    varies = (k1[:, None] > 0) | (k2[None, :] > 0)
    degenerate = np.where(varies, alpha * (alpha + 1) / 2, alpha * alpha)
    dot = np.where(nonzero, alpha + s * dr, degenerate)
    return alpha * K + s * Kr, k1n, k2n, T * dot


def torch_erf(x):
    return torch.special.erf(torch.from_numpy(x)).numpy()


PHI = {
    'tanh': (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    'sigmoid': (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2),
    'softplus': (lambda x: np.logaddexp(0, x), lambda x: 1 / (1 + np.exp(-x))),
    'gelu': (lambda x: x * 0.5 * (1 + torch_erf(x / np.sqrt(2))),
             lambda x: 0.5 * (1 + torch_erf(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
    'sin': (np.sin, np.cos),
}
H = 0.02
Z = np.arange(-450, 451) * H
W = H * np.exp(-Z * Z / 2) / np.sqrt(2 * np.pi)
CACHE = {}


def expectations(act, k11, k22, k12, same):
    """E[phi(u) phi(v)], E[phi'(u) phi'(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), by the 2-D trapezoid."""
    key = (act, k11, k22, k12, same)
    if key not in CACHE:
        f, df = PHI[act]
        l11 = np.sqrt(k11)
        c = 1.0 if same else (k12 / np.sqrt(k11 * k22) if k11 > 0 and k22 > 0 else 0.0)
        c = min(1.0, max(-1.0, c))
        l21 = c * np.sqrt(k22)
        l22 = np.sqrt(k22) * np.sqrt(max(0.0, 1 - c * c))
        u = l11 * Z
        v = l21 * Z[:, None] + l22 * Z[None, :]
        ww = np.outer(W, W)
        CACHE[key] = (float((ww * (f(u)[:, None] * f(v))).sum()), float((ww * (df(u)[:, None] * df(v))).sum()))
    return CACHE[key]


def numeric(act):
    def dual(K, k1, k2, T, same):
        Kn = np.empty_like(K)
        dot = np.empty_like(K)
        for i in range(K.shape[0]):
            for j in range(K.shape[1]):
                Kn[i, j], dot[i, j] = expectations(act, float(k1[i]), float(k2[j]), float(K[i, j]), bool(same[i, j]))
        k1n = np.array([expectations(act, float(k), float(k), float(k), True)[0] for k in k1])
        k2n = np.array([expectations(act, float(k), float(k), float(k), True)[0] for k in k2])
        return Kn, k1n, k2n, T * dot
    return dual


def check_against_hermgauss():
    """The 2-D trapezoid against numpy's own Gauss-Hermite rule at a moderate variance, where the latter converges."""
    x, w = np.polynomial.hermite.hermgauss(150)
    zz = np.sqrt(2) * x
    ww = np.outer(w, w) / np.pi
    for act, (f, df) in PHI.items():
        for k11, k22, k12 in ((0.7, 0.4, 0.3), (1.0, 1.0, -0.6), (0.2, 0.9, 0.0)):
            l11 = np.sqrt(k11)
            l21 = k12 / l11
            l22 = np.sqrt(k22 - l21 ** 2)
            u = l11 * zz
            v = l21 * zz[:, None] + l22 * zz[None, :]
            gh = ((ww * (f(u)[:, None] * f(v))).sum(), (ww * (df(u)[:, None] * df(v))).sum())
            tr = expectations(act, k11, k22, k12, False)
            assert abs(gh[0] - tr[0]) < 1e-14 and abs(gh[1] - tr[1]) < 1e-14, (act, gh, tr)


DUALS = {'relu': relu, 'erf': erf, 'leaky_relu': lambda *a: leaky(*a, ALPHA), 'identity': lambda *a: leaky(*a, 1.0),
         'leaky_relu,slope=0.2': lambda *a: leaky(*a, 0.2), 'leaky_relu,slope=0.0': lambda *a: leaky(*a, 0.0)}


def limit(x1, x2, act, param, depth, width, w_std, b_std):
    d = x1.shape[1]
    # correctly rounded dot products (math.fsum): identical rows give identical sums, so c = 1 exactly there
    K = np.array([[math.fsum(a * b) for b in x2] for a in x1]) / d
    k1 = np.array([math.fsum(a * a) for a in x1]) / d
    k2 = np.array([math.fsum(b * b) for b in x2]) / d
    T = np.zeros_like(K)
    same = np.array([[np.array_equal(a, b) for b in x2] for a in x1])  # identical inputs: c = 1 at every layer
    bias = 1.0 if b_std != 0 else 0.0
    fan_in = d
    for layer in range(depth + 1):
        if param == 'ntk':
            K, k1, k2 = (w_std ** 2 * v + b_std ** 2 for v in (K, k1, k2))
            T = K + w_std ** 2 * T
        else:
            T = fan_in * K + bias + w_std ** 2 * T
            K, k1, k2 = (w_std ** 2 * v + b_std ** 2 for v in (K, k1, k2))
        fan_in = width
        if layer < depth:
            K, k1, k2, T = (DUALS[act] if act in DUALS else numeric(act))(K, k1, k2, T, same)
    return K, T


def main():
    rng = np.random.default_rng(20261206)
    d = 5
    x1 = rng.normal(size=(7, d))
    x1[1] = x1[0]             # identical to row 0: c = 1
    x1[2] = -x1[0]            # antipodal: c = -1
    x1[3] = 2.5 * x1[0]       # parallel, another norm
    x1[4] = 0.0               # zero
    x1[5] = 1e-3 * x1[5]      # tiny
    x2 = rng.normal(size=(4, d))
    x2[0] = x1[0]
    x2[1] = -3.0 * x1[0]
    x2[2] = 0.0
    print('x1', *x1.shape, *(repr(float(v)) for v in x1.ravel()))
    print('x2', *x2.shape, *(repr(float(v)) for v in x2.ravel()))
    check_against_hermgauss()
    for act in ('relu', 'erf', 'leaky_relu', 'identity', 'tanh', 'sigmoid', 'softplus', 'gelu', 'sin',
                'leaky_relu,slope=0.2', 'leaky_relu,slope=0.0'):
        for param in ('ntk', 'standard'):
            for depth in (0, 1, 3):
                for w_std, b_std in ((1.5, 0.05), (1.0, 0.0), (2.0, 0.7)):
                    spec = 'fcn(depth=%d,width=37,out=3,act=%s,param=%s,w_std=%r,b_std=%r)' % (
                        depth, act, param, w_std, b_std)
                    print('case', spec)
                    for y in (x2, x1):
                        K, T = limit(x1, y, act, param, depth, 37, w_std, b_std)
                        print('nngp', *(repr(float(v)) for v in K.ravel()))
                        print('ntk', *(repr(float(v)) for v in T.ravel()))
                    K, T = limit(x2, x2, act, param, depth, 37, w_std, b_std)  # the scale of x2's entries
                    print('nngp_x2_diagonal', *(repr(float(v)) for v in np.diag(K)))
                    print('ntk_x2_diagonal', *(repr(float(v)) for v in np.diag(T)))


if __name__ == '__main__':
    main()
