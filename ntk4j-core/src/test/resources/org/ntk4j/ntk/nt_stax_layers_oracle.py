"""Writes nt_stax_layers_oracle.txt, the float64 oracle of StaxLayersParityTest: stax layers that
nt_parity_oracle.py leaves out (AvgPool, GlobalAvgPool, Flatten, LayerNorm, Gelu, Tanh), written from
neural-tangents' stax definitions in PyTorch (functorch's jacrev; no JAX, nothing from ntk4j):

    python3 nt_stax_layers_oracle.py > nt_stax_layers_oracle.txt

    Conv, Dense (ntk parameterisation): y = W_std / sqrt(fan_in) * (x . W) + b_std * b, W, b ~ N(0, 1); NHWC, HWIO;
        SAME pads as lax: total = max((ceil(n/s) - 1) s + k - n, 0), total // 2 before and the rest after
    AvgPool(window, strides, 'SAME'), normalize_edges=False (stax's default): the zero padding counts, every
        window is divided by its full size
    GlobalAvgPool: the mean over the spatial axes; Flatten: a reshape to [N, -1]
    LayerNorm() (axis=-1, eps=1e-12): (x - mean) / sqrt(eps + var), var biased, no parameters
    Gelu(approximate=False): x * Phi(x); Erf, Tanh
and the kernels as empirical_ntk_fn defines them: trace_axes=() gives [N1, N2, O, O]; the default (-1,) the mean
over the logits [N1, N2].
    pool = Conv(3, (3, 3), SAME) -> Erf -> AvgPool((2, 2), (2, 2), SAME) -> LayerNorm -> Flatten -> Dense(3)
           on [5, 6, 2]: the pool pads one row after (5 -> 3), none across (6 -> 3)
    gap  = Conv(4, (2, 2), VALID) -> Tanh -> AvgPool((3, 3), (1, 1), SAME) -> GlobalAvgPool -> Dense(5)
           -> LayerNorm -> Gelu -> Dense(3) on [5, 6, 2]
Line format: `KIND NAME SHAPE v v v ...`, SHAPE comma-separated, values with 17 significant digits.
"""
import math

import torch
import torch.nn.functional as F
from functorch import jacrev

torch.set_default_dtype(torch.float64)
gen = torch.Generator().manual_seed(20261207)


def normal(*shape):
    return torch.randn(*shape, generator=gen)


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv(x, w, b, padding, w_std, b_std):
    kh, kw, cin, _ = w.shape
    if padding == 'SAME':
        (ht, hb), (wl, wr) = same_pads(x.shape[1], kh, 1), same_pads(x.shape[2], kw, 1)
    else:
        ht = hb = wl = wr = 0
    xt = F.pad(x.permute(0, 3, 1, 2), (wl, wr, ht, hb))
    y = F.conv2d(xt, w.permute(3, 2, 0, 1)).permute(0, 2, 3, 1)
    return w_std / math.sqrt(kh * kw * cin) * y + b_std * b


def dense(x, w, b, w_std, b_std):
    return w_std / math.sqrt(w.shape[0]) * (x @ w) + b_std * b


def avg_pool_same(x, window, strides):
    (ht, hb), (wl, wr) = same_pads(x.shape[1], window[0], strides[0]), same_pads(x.shape[2], window[1], strides[1])
    xt = F.pad(x.permute(0, 3, 1, 2), (wl, wr, ht, hb))
    s = F.avg_pool2d(xt, window, strides, divisor_override=window[0] * window[1])
    return s.permute(0, 2, 3, 1)


def layer_norm(x, eps=1e-12):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(eps + var)


def gelu(x):
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def pool_net(p, x):
    h = torch.erf(conv(x, p['0_conv/w'], p['0_conv/b'], 'SAME', 1.3, 0.2))
    h = layer_norm(avg_pool_same(h, (2, 2), (2, 2)))
    return dense(h.reshape(h.shape[0], -1), p['5_dense/w'], p['5_dense/b'], 1.5, 0.05)


def gap_net(p, x):
    h = torch.tanh(conv(x, p['0_conv/w'], p['0_conv/b'], 'VALID', 1.3, 0.2))
    h = avg_pool_same(h, (3, 3), (1, 1)).mean(dim=(1, 2))
    h = gelu(layer_norm(dense(h, p['4_dense/w'], p['4_dense/b'], 1.5, 0.05)))
    return dense(h, p['7_dense/w'], p['7_dense/b'], 1.5, 0.05)


NETS = {
    'pool': (pool_net, [('0_conv/w', (3, 3, 2, 3)), ('0_conv/b', (3,)), ('5_dense/w', (27, 3)),
                        ('5_dense/b', (3,))]),
    'gap': (gap_net, [('0_conv/w', (2, 2, 2, 4)), ('0_conv/b', (4,)), ('4_dense/w', (4, 5)), ('4_dense/b', (5,)),
                      ('7_dense/w', (5, 3)), ('7_dense/b', (3,))]),
}


def emit(kind, name, t):
    t = t.detach()
    print(kind, name, ','.join(str(d) for d in t.shape), ' '.join('%.17g' % v for v in t.reshape(-1).tolist()))


def jacobian(f, p, x):
    j = jacrev(f)(p, x)
    fx = f(p, x)
    return torch.cat([j[k].reshape(*fx.shape, -1) for k in p], dim=-1)


def main():
    xs = {n: normal(*s) for n, s in (('x1', (3, 5, 6, 2)), ('x2', (2, 5, 6, 2)))}
    for n, x in xs.items():
        emit('input', n, x)
    for net, (f, shapes) in NETS.items():
        p = {name: normal(*shape) for name, shape in shapes}
        for k, t in p.items():
            emit('param', net + ':' + k, t)
        emit('output', net + ':x1', f(p, xs['x1']))
        j1 = jacobian(f, p, xs['x1'])
        for other in ('x1', 'x2'):
            full = torch.einsum('aoz,bpz->abop', j1, jacobian(f, p, xs[other]))
            emit('ntk', net + ':x1:' + other + ':full', full)
            emit('ntk', net + ':x1:' + other + ':trace', torch.einsum('abkk->ab', full) / full.shape[-1])


if __name__ == '__main__':
    main()
