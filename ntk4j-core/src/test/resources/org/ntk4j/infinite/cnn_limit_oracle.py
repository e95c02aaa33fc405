"""Writes cnn_limit_oracle.txt, the float64 oracle of CnnLimitOracleTest: the infinite-channel NNGP and NTK of the
zoo's cnn (to_image, depth x (conv filter x filter stride 1 SAME with bias, act), global average pool or flatten,
dense(out)) and resnet (to_image, conv stem, blocks x (z + conv(act(conv(act(z))))), act, global average pool,
dense(out), all convs 3 x 3) written from the layer recursions, independently of ntk4j's Java:

    python3 cnn_limit_oracle.py > cnn_limit_oracle.txt

All examples (x1 and x2 stacked) at once, and always the whole covariance over every pair of pixels,
K[n, m, i, j, i', j'] (ntk4j recurses one pair of examples at a time, and for flatten over the pixels' diagonal only;
here flatten reads the diagonal i = i', j = j' of the full map at the readout). As neural-tangents' stax kernel_fn:
    input kernel   K = x(p).x'(p')/C                                   (C input channels)
    Conv SAME      S = sum over the k^2 offsets of the zero-padded map at (p + d, p' + d)   (pad lo = (k-1)//2)
                   NTK param.:  K <- W_std^2/k^2 S(K) + b_std^2,  T <- K_new + W_std^2/k^2 S(T)  (T = 0 at first)
                   standard:    T <- n S(K) + [b] + W_std^2/k^2 S(T),  K <- W_std^2/k^2 S(K) + b_std^2  (n: channels
                                in, C for the first conv; [b] = 1 with biases)
    Relu / Erf     K <- E[phi(u) phi(v)],  T <- T E[phi'(u) phi'(v)]  with Var u = K[n, n, p, p], Var v = K[m, m, p', p']
                   (the closed forms of fcn_limit_oracle.py)
    readout        G, D = mean of K, T over all (p, p') for GlobalAvgPool, over p = p' for Flatten; Dense as above
                   with fan-in n_R = channels (gap) or H W channels (flatten), S(.) replaced by the mean
    residual       K <- K + K_branch, T <- T + T_branch (FanOut, the branch and Identity, FanInSum)
Identical images have correlation exactly 1 at p = p' (kept exact here, as in the fcn oracle). Images 4 x 5 x 2
(H != W), x1: 6 images among them a copy of image 0, its negation and a zero image; x2: 3 images, one a copy of x1's
image 0. 16 cnns, then 8 resnets (blocks 1 and 2). Per case: the kernels of x1 against x2 [6, 3] and against itself [6, 6], each NNGP then NTK, and the
diagonals of x2's own kernels (the scale of its entries).
"""
import numpy as np


def duals(act, K, va, vb, same):
    """E[phi phi], E[phi' phi'] for (u, v) ~ N(0, [[va, K], [K, vb]]), elementwise over the map."""
    if act == 'relu':
        norms = np.sqrt(va * vb)
        safe = np.where(norms > 0, norms, 1.0)
        c = np.where(same, 1.0, np.clip(K / safe, -1.0, 1.0))
        t = np.arccos(c)
        e = np.where(norms > 0, norms / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t)), 0.0)
        d = np.where(norms > 0, (np.pi - t) / (2 * np.pi), 0.0)
        return e, d
    a = 1 + 2 * va
    b = 1 + 2 * vb
    e = 2 / np.pi * np.arcsin(np.clip(2 * K / np.sqrt(a * b), -1, 1))
    d = 4 / np.pi / np.sqrt(a * b - 4 * K ** 2)
    return e, d


def conv(M, k):
    """sum over offsets of the zero-padded map at (p + d, p' + d); M [N, N, H, W, H, W]."""
    lo = (k - 1) // 2
    hi = k - 1 - lo
    _, _, H, W, _, _ = M.shape
    P = np.pad(M, [(0, 0), (0, 0), (lo, hi), (lo, hi), (lo, hi), (lo, hi)])
    S = np.zeros_like(M)
    for a in range(k):
        for b in range(k):
            S += P[:, :, a:a + H, b:b + W, a:a + H, b:b + W]
    return S


def limit(x, act, param, depth, channels, k, pool, w_std, b_std):
    N, H, W, C = x.shape
    K = np.einsum('nijc,mklc->nijmkl', x, x).transpose(0, 3, 1, 2, 4, 5) / C  # [N, N, H, W, H, W]
    eye = np.eye(H * W).reshape(H, W, H, W).astype(bool)
    same_img = np.array([[np.array_equal(x[n], x[m]) for m in range(N)] for n in range(N)])
    same = same_img[:, :, None, None, None, None] & eye[None, None]
    bias = 1.0 if b_std != 0 else 0.0
    T = np.zeros_like(K)
    fan = C
    for layer in range(depth + 1):
        if layer > 0:
            diag = np.einsum('nnijij->nij', K)  # Var at each pixel of each image
            va = diag[:, None, :, :, None, None]
            vb = diag[None, :, None, None, :, :]
            E, D = duals(act, K, va, vb, same)
            K, T = E, T * D
        if layer < depth:  # a conv
            SK, ST = conv(K, k), conv(T, k)
            Kn = w_std ** 2 / k ** 2 * SK + b_std ** 2
            T = (Kn if param == 'ntk' else fan * SK + bias) + w_std ** 2 / k ** 2 * ST
            K = Kn
            fan = channels
        else:  # pool and dense readout
            if pool == 'gap':
                G, Dm = K.mean(axis=(2, 3, 4, 5)), T.mean(axis=(2, 3, 4, 5))
                fan_r = fan
            else:
                G, Dm = (np.einsum('nmijij->nmij', v).mean(axis=(2, 3)) for v in (K, T))
                fan_r = fan * H * W
            Kout = w_std ** 2 * G + b_std ** 2
            Tout = (Kout if param == 'ntk' else fan_r * G + bias) + w_std ** 2 * Dm
    return Kout, Tout


def limit_resnet(x, act, param, blocks, channels, w_std, b_std):
    """The zoo's resnet: conv stem, blocks x (z + conv(act(conv(act(z))))), act, GlobalAvgPool, Dense; all 3 x 3.
    stax.FanOut/parallel/FanInSum: the branch and the identity are uncorrelated at init, so K and T add."""
    N, H, W, C = x.shape
    k = 3
    K0 = np.einsum('nijc,mklc->nijmkl', x, x).transpose(0, 3, 1, 2, 4, 5) / C
    eye = np.eye(H * W).reshape(H, W, H, W).astype(bool)
    same_img = np.array([[np.array_equal(x[n], x[m]) for m in range(N)] for n in range(N)])
    same = same_img[:, :, None, None, None, None] & eye[None, None]
    bias = 1.0 if b_std != 0 else 0.0

    def conv_layer(K, T, fan):
        SK, ST = conv(K, k), conv(T, k)
        Kn = w_std ** 2 / k ** 2 * SK + b_std ** 2
        return Kn, (Kn if param == 'ntk' else fan * SK + bias) + w_std ** 2 / k ** 2 * ST

    def act_layer(K, T):
        diag = np.einsum('nnijij->nij', K)
        E, D = duals(act, K, diag[:, None, :, :, None, None], diag[None, :, None, None, :, :], same)
        return E, T * D

    K, T = conv_layer(K0, np.zeros_like(K0), C)
    for _ in range(blocks):
        Kb, Tb = conv_layer(*act_layer(K, T), channels)
        Kb, Tb = conv_layer(*act_layer(Kb, Tb), channels)
        K, T = K + Kb, T + Tb
    K, T = act_layer(K, T)
    G, Dm = K.mean(axis=(2, 3, 4, 5)), T.mean(axis=(2, 3, 4, 5))
    Kout = w_std ** 2 * G + b_std ** 2
    return Kout, (Kout if param == 'ntk' else channels * G + bias) + w_std ** 2 * Dm


def main():
    rng = np.random.default_rng(20261207)
    shape = (4, 5, 2)
    x1 = rng.normal(size=(6,) + shape)
    x1[1] = x1[0]          # identical to image 0
    x1[2] = -x1[0]         # its negation
    x1[3] = 0.0            # zero image
    x2 = rng.normal(size=(3,) + shape)
    x2[0] = x1[0]
    print('x1', *x1.shape, *(repr(float(v)) for v in x1.ravel()))
    print('x2', *x2.shape, *(repr(float(v)) for v in x2.ravel()))
    both = np.concatenate([x1, x2])
    n1 = len(x1)
    for act in ('relu', 'erf'):
        for param in ('ntk', 'standard'):
            for pool in ('gap', 'flatten'):
                for depth, k, w_std, b_std in ((2, 3, 1.5, 0.05), (3, 2, 1.3, 0.0)):
                    spec = 'cnn(depth=%d,channels=7,out=3,act=%s,filter=%d,pool=%s,param=%s,w_std=%r,b_std=%r)' % (
                        depth, act, k, pool, param, w_std, b_std)
                    print('case', spec)
                    write(limit(both, act, param, depth, 7, k, pool, w_std, b_std), n1)
            for blocks, w_std, b_std in ((1, 1.5, 0.05), (2, 1.2, 0.0)):
                spec = 'resnet(blocks=%d,channels=7,out=3,act=%s,param=%s,w_std=%r,b_std=%r)' % (
                    blocks, act, param, w_std, b_std)
                print('case', spec)
                write(limit_resnet(both, act, param, blocks, 7, w_std, b_std), n1)


def write(kernels, n1):
    K, T = kernels
    for cols in (slice(n1, None), slice(0, n1)):
        print('nngp', *(repr(float(v)) for v in K[:n1, cols].ravel()))
        print('ntk', *(repr(float(v)) for v in T[:n1, cols].ravel()))
    print('nngp_x2_diagonal', *(repr(float(v)) for v in np.diag(K)[n1:]))
    print('ntk_x2_diagonal', *(repr(float(v)) for v in np.diag(T)[n1:]))


if __name__ == '__main__':
    main()
