"""Writes fcn_limit_oracle.txt, the float64 oracle of FcnLimitOracleTest: the infinite-width NNGP and NTK of the zoo's
fcn (flatten, depth x (dense(width), act), dense(out)) written from the closed forms, independently of ntk4j's Java:

    python3 fcn_limit_oracle.py > fcn_limit_oracle.txt

Whole Gram matrices at once (ntk4j recurses one pair at a time), the layer recursions as neural-tangents' stax
Dense/Relu/Erf kernel_fn define them:
    input kernel        K = x.x'/d                               (stax's normalised input covariance)
    Dense, NTK param.   K <- W_std^2 K + b_std^2,   T <- K_new + W_std^2 T        (T starts at 0)
    Dense, standard     T <- fan_in K + [b] + W_std^2 T,   then K <- W_std^2 K + b_std^2   ([b] = 1 with a bias)
    Relu (Cho & Saul)   K <- sqrt(k k')/(2 pi) (sin t + (pi - t) cos t),  T <- T (pi - t)/(2 pi),  t = arccos(K/sqrt(k k'))
    Erf (Williams)      K <- 2/pi arcsin(2K/sqrt((1+2k)(1+2k'))),  T <- T 4/pi / sqrt((1+2k)(1+2k') - 4K^2)
with k, k' the variances of the two inputs. Inputs at the edges of arccos: identical, antipodal and parallel rows,
a zero row (variance 0 without biases: relu gives 0 and relu'(0) = 0), a tiny row, and x1 != x2 (rectangular).
Identical inputs have correlation c = 1 at every layer, which the oracle keeps exactly (computing c = 1 from rounded
covariances would leave arccos an error of about 1e-8). Per case: the kernels of x1 against x2 [7, 4] and against
itself [7, 7], each NNGP then NTK, and the diagonals of x2's own kernels (the scale of its entries).
"""
import math

import numpy as np


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
            K, k1, k2, T = (relu if act == 'relu' else erf)(K, k1, k2, T, same)
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
    for act in ('relu', 'erf'):
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
