"""Writes composed_limit_oracle.txt, the float64 oracle of ComposedLimitOracleTest: the infinite-width NNGP and NTK
of networks mixing strided and padded convolutions, avg_pool and fan_in_concat, written from the layers' forward
passes (org.ntk4j.nn.Conv, AvgPool, FanInConcat, Dense) and neural-tangents' stax rules, not from ComposedLimit's
recursion nor the MapOracle test helper (a fresh-eyes check of ComposedLimit):

    python3 composed_limit_oracle.py > composed_limit_oracle.txt

Formulation: one joint Gaussian process over every (example, pixel) unit of x1 and x2 stacked, so each value's
kernel is one matrix K[(n, p), (m, p')] (N·P square; Θ alike), and every linear layer is a matrix A acting on the
units of each example, K <- A K Aᵀ. Nothing is recursed pair by pair, no diagonal shortcut is taken, and the conv
and pool geometry is built as explicit selection matrices, not as index arithmetic on maps:
    conv (kh x kw, strides s, zero pads {lo, hi} per axis; SAME resolved as lax/TensorFlow: out = ceil(in / s),
          total = max((out - 1) s + k - in, 0), lo = total // 2, the rest after):
          for each filter offset d a 0/1 matrix S_d [out pixels x in pixels], S_d[q, a] = 1 iff pixel
          a = s q + d - lo lies inside the image (a pixel in the padding is a zero). The forward
          y_q = sigma_w / sqrt(k C) sum_{d, c} w[d, c] x_{s q + d - lo, c} + sigma_b b (NTK parameterisation) gives
          K' = sigma_w^2 / k sum_d S_d K S_dᵀ + sigma_b^2 (K the per-channel mean); the gradient with respect to
          w and b gives Θ' = K' + sigma_w^2 / k sum_d S_d Θ S_dᵀ; standard parameterisation (w ~ N(0, sigma_w^2 /
          (k C)), b ~ N(0, sigma_b^2), y = conv(x, w) + b): the same K', Θ' = C sum_d S_d K S_dᵀ + [b] +
          sigma_w^2 / k sum_d S_d Θ S_dᵀ ([b] = 1 with a bias; C the conv's input channels, k = kh kw).
    dense on an image: a 1 x 1 conv (per pixel on the channels); on a vector of n units whose kernel is the mean of
          its units' covariances: K' = sigma_w^2 K + sigma_b^2, Θ' = K' + sigma_w^2 Θ (NTK) or n K + [b] +
          sigma_w^2 Θ (standard); a flattened image's units are (pixel, channel), and distinct pixels meet distinct
          weights, so the vector's K is the mean over p of K[(n, p), (m, p)].
    avg_pool: the 0/1 window matrix scaled by the divisors, P[q, a] = 1 / d_q for a in q's window (d_q the window's
          size kh kw, also under SAME, or the input pixels the window covers with count_include_pad false),
          K' = P K Pᵀ, Θ' = P Θ Pᵀ.
    global_avg_pool: the mean over every (p, p').   flatten, identity: nothing.   fan_out: copies.
    relu, erf: elementwise on the joint matrix, the variances from its diagonal (closed forms:
          relu  E[phi phi] = sqrt(va vb) (sin t + (pi - t) cos t) / (2 pi), E[phi' phi'] = (pi - t) / (2 pi),
                t = arccos(K / sqrt(va vb));
          erf   E[phi phi] = 2/pi arcsin(2K / sqrt((1 + 2va)(1 + 2vb))),
                E[phi' phi'] = 4 / (pi sqrt((1 + 2va)(1 + 2vb) - 4K^2))), Θ <- Θ E[phi' phi'];
          a unit with itself has correlation exactly 1 (set here, as ntk4j keeps it).
    fan_in_sum (branches uncorrelated): K = sum K_i, Θ alike.
    fan_in_concat along the channels (or a vector's features): the next layer meets each unit with its own weight,
          so what it reads is the mean over the units, sum c_i K_i / sum c_i with c_i each branch's channels
          (features; a flattened image counts H W C units, read as the dense layer reads it).
Inputs: x1 = 4 images 5 x 6 x 2 (one is 2 x image 0, one is -image 1: biases keep their correlations off +-1, and the
network without biases uses erf, smooth there), x2 = 3 images (one is x1's image 0 + noise: a correlation near, not
exactly, 1 keeps arccos well conditioned at the 1e-10 the test asks); sigma_w = 1.3, sigma_b = 0.2 (0 for
no_bias_erf). Per case: "case NAME PARAM W_STD B_STD SPEC", then K(x1, x2) [4, 3]
NNGP and NTK, K(x1, x1) [4, 4] NNGP and NTK, and x2's own diagonals NNGP and NTK (the entries' scale).
SPEC is an s-expression the Java test parses into org.ntk4j.nn.Layers (see ComposedLimitOracleTest).
"""
import math

import numpy as np

H, W, C = 5, 6, 2
N1, N2 = 4, 3


def tokens(s):
    return s.replace("(", " ( ").replace(")", " ) ").split()


def parse(t, i=0):
    assert t[i] == "("
    i += 1
    out = []
    while t[i] != ")":
        if t[i] == "(":
            sub, i = parse(t, i)
            out.append(sub)
        else:
            out.append(t[i])
            i += 1
    return out, i + 1


def pads(kind, size, k, s, explicit):
    if kind == "valid":
        return 0, 0
    if kind == "same":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    return explicit


def axis_geometry(size, k, s, lo, hi):
    out = (size + lo + hi - k) // s + 1
    assert out >= 1
    return out


class Value:
    """A value's joint kernels over all examples' units: image (h, w, c) with K [N h w, N h w], or vector."""

    def __init__(self, K, T, shape, flat=None):
        self.K, self.T, self.shape, self.flat = K, T, shape, flat

    def copy(self):
        return Value(self.K.copy(), self.T.copy(), self.shape, self.flat)


class Net:
    def __init__(self, param, w_std, b_std, n):
        self.std = param == "standard"
        self.w2 = w_std * w_std
        self.b2 = b_std * b_std
        self.bias = 1.0 if b_std != 0 else 0.0
        self.n = n

    def linear_maps(self, h, w, kh, kw, sh, sw, pad_kind, explicit):
        """Per filter offset, the [out pixels, in pixels] selection matrix; and the output size."""
        ph = pads(pad_kind, h, kh, sh, explicit[0] if explicit else None)
        pw = pads(pad_kind, w, kw, sw, explicit[1] if explicit else None)
        oh = axis_geometry(h, kh, sh, *ph)
        ow = axis_geometry(w, kw, sw, *pw)
        mats = []
        for a in range(kh):
            for b in range(kw):
                S = np.zeros((oh * ow, h * w))
                for i in range(oh):
                    for j in range(ow):
                        r, c = i * sh + a - ph[0], j * sw + b - pw[0]
                        if 0 <= r < h and 0 <= c < w:
                            S[i * ow + j, r * w + c] = 1.0
                mats.append(S)
        return mats, oh, ow, ph, pw

    def per_example(self, S):
        return np.kron(np.eye(self.n), S)

    def conv(self, v, out, kh, kw, sh, sw, pad_kind, explicit):
        h, w, c = v.shape
        mats, oh, ow, _, _ = self.linear_maps(h, w, kh, kw, sh, sw, pad_kind, explicit)
        sk = sum(self.per_example(S) @ v.K @ self.per_example(S).T for S in mats)
        st = sum(self.per_example(S) @ v.T @ self.per_example(S).T for S in mats)
        k = kh * kw
        K = self.w2 / k * sk + self.b2
        T = (c * sk + self.bias if self.std else K) + self.w2 / k * st
        return Value(K, T, (oh, ow, out))

    def pool(self, v, kh, kw, sh, sw, pad_kind, explicit, count_include_pad):
        h, w, c = v.shape
        mats, oh, ow, ph, pw = self.linear_maps(h, w, kh, kw, sh, sw, pad_kind, explicit)
        window = sum(mats)  # 0/1: the input pixels of each output pixel's window
        covered = window.sum(axis=1)
        d = np.full(oh * ow, float(kh * kw)) if count_include_pad else covered
        P = self.per_example(window / d[:, None])
        return Value(P @ v.K @ P.T, P @ v.T @ P.T, (oh, ow, c))

    def as_vector(self, v):
        """The kernel a dense layer reads: a vector's, or a flattened image's mean over its pixel diagonal."""
        if v.flat is None:
            return v.K, v.T, v.shape[0]
        h, w, c = v.flat
        p = h * w
        K = np.einsum("apbp->ab", v.K.reshape(self.n, p, self.n, p)) / p
        T = np.einsum("apbp->ab", v.T.reshape(self.n, p, self.n, p)) / p
        return K, T, h * w * c

    def dense(self, v, out):
        if v.flat is None and len(v.shape) == 3:
            return self.conv(v, out, 1, 1, 1, 1, "valid", None)
        K0, T0, n = self.as_vector(v)
        K = self.w2 * K0 + self.b2
        T = (n * K0 + self.bias if self.std else K) + self.w2 * T0
        return Value(K, T, (out,))

    def gap(self, v):
        h, w, c = v.shape
        p = h * w
        K = v.K.reshape(self.n, p, self.n, p).mean(axis=(1, 3))
        T = v.T.reshape(self.n, p, self.n, p).mean(axis=(1, 3))
        return Value(K, T, (c,))

    def act(self, v, name):
        K = v.K
        var = np.diag(K).copy()
        va, vb = var[:, None], var[None, :]
        if name == "relu":
            norm = np.sqrt(va * vb)
            rho = np.clip(K / norm, -1.0, 1.0)
            np.fill_diagonal(rho, 1.0)
            t = np.arccos(rho)
            k_new = norm * (np.sqrt(1 - rho * rho) + (math.pi - t) * rho) / (2 * math.pi)
            np.fill_diagonal(k_new, var / 2)
            d = (math.pi - t) / (2 * math.pi)
        elif name == "erf":
            q = np.sqrt((1 + 2 * va) * (1 + 2 * vb))
            arg = np.clip(2 * K / q, -1.0, 1.0)
            k_new = 2 / math.pi * np.arcsin(arg)
            d = 4 / (math.pi * np.sqrt((1 + 2 * va) * (1 + 2 * vb) - 4 * K * K))
        else:
            raise ValueError(name)
        return Value(k_new, v.T * d, v.shape, v.flat)

    def concat(self, vs):
        if all(len(v.shape) == 3 and v.flat is None for v in vs):
            widths = [v.shape[2] for v in vs]
            shape = vs[0].shape[:2] + (sum(widths),)
            K = sum(c * v.K for c, v in zip(widths, vs)) / sum(widths)
            T = sum(c * v.T for c, v in zip(widths, vs)) / sum(widths)
            return Value(K, T, shape)
        parts = [self.as_vector(v) for v in vs]
        widths = [n for _, _, n in parts]
        K = sum(c * k for c, (k, _, _) in zip(widths, parts)) / sum(widths)
        T = sum(c * t for c, (_, t, _) in zip(widths, parts)) / sum(widths)
        return Value(K, T, (sum(widths),))

    def run(self, e, vals):
        """Applies layer expression e to the list of values; returns the list of outputs."""
        op = e[0]
        if op == "serial":
            for sub in e[1:]:
                vals = self.run(sub, vals)
            return vals
        if op == "parallel":
            out = []
            for sub, v in zip(e[1:], vals):
                out += self.run(sub, [v])
            return out
        if op == "fanout":
            return [vals[0].copy() for _ in range(int(e[1]))]
        if op == "sum":
            v = vals[0].copy()
            for o in vals[1:]:
                v.K = v.K + o.K
                v.T = v.T + o.T
            return [v]
        if op == "concat":
            return [self.concat(vals)]
        v = vals[0]
        if op == "identity":
            return [v]
        if op in ("relu", "erf"):
            return [self.act(v, op)]
        if op == "flatten":
            flat = v.flat if v.flat is not None else v.shape
            size = int(np.prod(v.shape))
            return [Value(v.K, v.T, (size,), flat if len(v.shape) == 3 else v.flat)]
        if op == "gap":
            return [self.gap(v)]
        if op == "dense":
            return [self.dense(v, int(e[1]))]
        if op in ("conv", "pool"):
            i = 1
            out = None
            if op == "conv":
                out = int(e[1])
                i = 2
            kh, kw, sh, sw = (int(x) for x in e[i:i + 4])
            kind = e[i + 4]
            explicit = None
            j = i + 5
            if kind == "explicit":
                t, b, l, r = (int(x) for x in e[j:j + 4])
                explicit = ((t, b), (l, r))
                j += 4
            if op == "conv":
                return [self.conv(v, out, kh, kw, sh, sw, kind, explicit)]
            cip = kind != "explicit" or e[j] == "1"
            return [self.pool(v, kh, kw, sh, sw, kind, explicit, cip)]
        raise ValueError(op)


def kernels(spec, param, w_std, b_std, x):
    n = x.shape[0]
    flat = x.reshape(n * H * W, C)
    K0 = flat @ flat.T / C
    net = Net(param, w_std, b_std, n)
    tree, _ = parse(tokens(spec))
    (v,) = net.run(tree, [Value(K0, np.zeros_like(K0), (H, W, C))])
    assert v.flat is None and len(v.shape) == 1, spec
    return v.K, v.T


# networks: name, spec (the Java test parses the same spec); each in both parameterisations
CASES = [
    # flatten after strided convs (diagonal maps in ntk4j): SAME stride 2 (pads 1, 1 / 0, 1), explicit pads and
    # strides (1, 2), erf then relu
    ("strided_flatten", "(serial (conv 5 3 3 2 2 same) (erf) (conv 4 2 2 1 2 explicit 1 0 0 1) (relu) (flatten)"
                        " (dense 1))"),
    # even filters under SAME (asymmetric pads 0/1 and 1/2), then a conv whose stride equals its window, gap
    ("even_same_gap", "(serial (conv 4 2 4 1 1 same) (relu) (conv 6 3 3 3 3 valid) (relu) (gap) (dense 1))"),
    # stride larger than the window (pixels skipped), then a pool down to one pixel, then flatten
    ("stride_gt_window_one_pixel", "(serial (conv 5 2 2 3 3 valid) (relu) (pool 2 2 1 1 valid) (flatten)"
                                   " (dense 1))"),
    # a pool right after the input, windows over the border without count_include_pad, a SAME pool (pads counted)
    # (the pool of a conv's output is Gaussian: erf may follow it)
    ("pool_first", "(serial (pool 3 3 2 2 explicit 1 1 1 1 0) (conv 4 2 2 1 1 same) (pool 2 2 2 1 same) (erf)"
                   " (conv 3 2 2 1 1 valid) (relu) (flatten) (dense 1))"),
    # a pool whose stride exceeds its window (1 x 2 windows at steps (2, 3)), an SAME stride-2 conv after it
    ("pool_stride_gt_window", "(serial (conv 3 1 1 1 1 valid) (relu) (pool 1 2 2 3 valid) (conv 4 3 3 2 2 same)"
                              " (relu) (gap) (dense 1))"),
    # explicit pool padding on one side only, count_include_pad false, then a conv to a single pixel
    ("border_pool_one_pixel", "(serial (conv 3 3 3 1 1 same) (relu) (pool 2 3 2 2 explicit 1 0 0 2 0)"
                              " (conv 5 3 3 1 1 valid) (relu) (flatten) (dense 1))"),
    # concatenation of branches of different spatial handling and widths (relu + asymmetric conv, a 3 x 1 conv,
    # a count_include_pad-false pool of the stem), then a strided SAME conv with an even filter
    ("concat_channels", "(serial (conv 4 3 3 1 1 same) (fanout 3) (parallel (serial (relu)"
                        " (conv 5 2 2 1 1 explicit 0 1 1 0)) (conv 7 3 1 1 1 same) (pool 3 3 1 1 explicit 1 1 1 1 0))"
                        " (concat) (conv 3 2 2 2 2 same) (relu) (flatten) (dense 1))"),
    # a flattened image concatenated with a pooled vector, then a dense layer
    ("concat_flat_vector", "(serial (conv 3 3 3 2 2 same) (relu) (fanout 2) (parallel (flatten)"
                           " (serial (gap) (dense 6))) (concat) (dense 1))"),
    # a residual block around a strided image, a dense layer on the image (1 x 1 conv), pool then gap
    ("residual_dense_image", "(serial (conv 4 3 3 2 2 same) (fanout 2) (parallel (serial (relu)"
                             " (conv 4 2 2 1 1 same)) (identity)) (sum) (relu) (dense 3) (relu) (pool 2 2 1 1 valid)"
                             " (gap) (dense 1))"),
    # explicit conv padding beyond the filter: maps larger than the input, rows of pixels that see only padding
    # (their K is sigma_b^2), then a border pool without count_include_pad and a padded strided conv
    ("padding_grows_map", "(serial (conv 3 2 2 1 1 explicit 3 2 1 3) (relu) (pool 3 3 2 2 explicit 2 1 1 2 0)"
                          " (conv 4 2 2 1 2 explicit 2 2 2 2) (relu) (gap) (dense 1))"),
    # one-pixel strided pools keep the diagonal maps; dense layers on the image (1 x 1 convs), erf between them
    ("one_pixel_pool_dense_image", "(serial (conv 4 3 2 2 2 explicit 2 0 0 1) (relu) (pool 1 1 2 2 valid)"
                                   " (dense 5) (erf) (dense 3) (relu) (flatten) (dense 1))"),
    # unequal and equal concatenations: relu (4), erf (4) and a conv (2) of the stem, their mean added to an
    # independent conv, then a SAME pool; and on vectors two equal branches (the plain mean)
    ("concat_sum_pool", "(serial (conv 4 2 2 1 1 same) (fanout 2) (parallel (serial (fanout 3) (parallel (relu) (erf)"
                        " (conv 2 1 1 1 1 valid)) (concat)) (conv 10 3 3 1 1 same)) (sum) (pool 2 2 2 2 same)"
                        " (conv 5 2 2 1 1 valid) (relu) (flatten) (dense 1))"),
    ("concat_equal_vectors", "(serial (conv 3 3 3 2 2 same) (gap) (dense 4) (fanout 2) (parallel (serial (dense 4)"
                             " (relu)) (serial (dense 4) (erf))) (concat) (dense 1))"),
    # the raw input (2 channels) concatenated with a relu branch (4), weighted by those widths
    ("concat_raw_input", "(serial (fanout 2) (parallel (identity) (serial (conv 4 3 3 1 1 same) (relu))) (concat)"
                         " (conv 3 2 2 2 2 same) (relu) (flatten) (dense 1))"),
    # no conv nor pool: examples [H, W, C] are images, dense layers act per pixel
    ("dense_on_image_only", "(serial (dense 5) (relu) (dense 4) (erf) (flatten) (dense 1))"),
    # a strided dense-free network with no bias, erf
    ("no_bias_erf", "(serial (conv 3 2 3 2 1 explicit 1 1 0 2) (erf) (pool 2 2 2 2 explicit 1 0 1 1 1) (conv 4 2 2"
                    " 1 1 valid) (erf) (flatten) (dense 1))"),
]


def main():
    rng = np.random.default_rng(20261207)
    x1 = rng.standard_normal((N1, H, W, C))
    x1[2] = 2 * x1[0]
    x1[3] = -x1[1]
    x2 = rng.standard_normal((N2, H, W, C))
    x2[0] = x1[0] + 0.3 * rng.standard_normal((H, W, C))
    x = np.concatenate([x1, x2])
    fmt = lambda a: " ".join(repr(float(v)) for v in np.ravel(a))
    print("x1", N1, H, W, C, fmt(x1))
    print("x2", N2, H, W, C, fmt(x2))
    for name, spec in CASES:
        for param in ("ntk", "standard"):
            b_std = 0.0 if name == "no_bias_erf" else 0.2
            K, T = kernels(spec, param, 1.3, b_std, x)
            print("case", name, param, 1.3, b_std, spec.replace(" ", "_"))
            print("nngp12", fmt(K[:N1, N1:]))
            print("ntk12", fmt(T[:N1, N1:]))
            print("nngp11", fmt(K[:N1, :N1]))
            print("ntk11", fmt(T[:N1, :N1]))
            print("nngp22diag", fmt(np.diag(K[N1:, N1:])))
            print("ntk22diag", fmt(np.diag(T[N1:, N1:])))


if __name__ == "__main__":
    main()
