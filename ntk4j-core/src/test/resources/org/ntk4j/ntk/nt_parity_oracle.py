"""Writes nt_parity_oracle.txt, the float64 oracle of NeuralTangentsParityTest: neural-tangents' empirical-kernel
semantics re-implemented in PyTorch (functorch's jacrev and jvp; no JAX, nothing from ntk4j):

    python3 nt_parity_oracle.py > nt_parity_oracle.txt

The networks are written from neural-tangents' stax definitions (NHWC inputs, HWIO filters):
    Dense, ntk:       y = W_std / sqrt(fan_in) * x.W + b_std * b        (W, b ~ N(0, 1))
    Dense, standard:  y = x.W + b                                        (W ~ N(0, W_std^2 / fan_in), b ~ N(0, b_std^2))
    Conv:             the same with fan_in = KH * KW * Cin; SAME pads as lax: total = max((ceil(n/s) - 1) s + k - n, 0),
                      total // 2 before and the rest after; VALID pads nothing
and the kernels from the Jacobians J = df/dtheta as neural-tangents' empirical_ntk_fn defines them: for each axis of
f(x) (batch axis 0 included), a traced axis is contracted, a diagonal axis is kept once, any other appears as the
pair (a1, a2) in the original axis order; the result is divided by the product of the traced sizes (a mean).
    fcn  = flatten, dense(5), tanh, dense(3)                   on inputs [4]       (ntk and standard; and
           standard with b_std=0., whose biases are 0 but trainable)
    conv = conv(3, 2x3, strides 1x2, SAME), erf, conv(2, 3x2, VALID)  on [5, 6, 2]  (ntk and standard): f [N, 3, 2, 2]
Cases: every (trace, diagonal) pair of disjoint axis sets of the conv network's outputs (81) for x1 [2] against x2
[2] and against itself, those with axis 0 paired against x3 [3]; the fcn's full and traced kernels; the empirical
NNGP; Theta.v for v shaped like f(x2); linearize and taylor_expand(degree 2) at theta0 + delta (outputs; taylor2's
full eNTK there, by jacrev of the expansion written with nested jvps).
Line format: `KIND NAME SHAPE v v v ...`, SHAPE comma-separated ('-' for a scalar), values with 16 digits.
"""
import itertools
import math

import torch
import torch.nn.functional as F
from functorch import jacrev, jvp

torch.set_default_dtype(torch.float64)
gen = torch.Generator().manual_seed(20261206)


def normal(*shape):
    return torch.randn(*shape, generator=gen)


def dense(x, w, b, w_std, b_std, param):
    fan_in = w.shape[0]
    prod = torch.tensordot(x, w, dims=([x.dim() - 1], [0]))
    if param == 'ntk':
        return w_std / math.sqrt(fan_in) * prod + b_std * b
    return prod + b


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv(x, w, b, strides, padding, w_std, b_std, param):
    kh, kw, cin, _ = w.shape
    n, h, wd, c = x.shape
    if padding == 'SAME':
        (ht, hb), (wl, wr) = same_pads(h, kh, strides[0]), same_pads(wd, kw, strides[1])
    else:
        ht = hb = wl = wr = 0
    xt = F.pad(x.permute(0, 3, 1, 2), (wl, wr, ht, hb))
    y = F.conv2d(xt, w.permute(3, 2, 0, 1), stride=tuple(strides)).permute(0, 2, 3, 1)
    if param == 'ntk':
        return w_std / math.sqrt(kh * kw * cin) * y + b_std * b
    return y + b


def fcn_fn(param):
    def f(p, x):
        h = x.reshape(x.shape[0], -1)
        h = torch.tanh(dense(h, p['1_dense/w'], p['1_dense/b'], 1.5, 0.05, param))
        return dense(h, p['3_dense/w'], p['3_dense/b'], 1.5, 0.05, param)
    return f


def conv_fn(param):
    def f(p, x):
        h = torch.erf(conv(x, p['0_conv/w'], p['0_conv/b'], (1, 2), 'SAME', 1.3, 0.2, param))
        return conv(h, p['2_conv/w'], p['2_conv/b'], (1, 1), 'VALID', 0.9, 0.1, param)
    return f


def init(shapes, param, w_std, b_std):
    """stax's initialisation: N(0, 1) under ntk; scaled by W_std/sqrt(fan_in) and b_std under standard."""
    p = {}
    for name, shape in shapes:
        t = normal(*shape)
        if param == 'standard':
            t = t * (w_std / math.sqrt(math.prod(shape[:-1])) if name.endswith('/w') else b_std)
        p[name] = t
    return p


FCN_SHAPES = [('1_dense/w', (4, 5)), ('1_dense/b', (5,)), ('3_dense/w', (5, 3)), ('3_dense/b', (3,))]
CONV_SHAPES = [('0_conv/w', (2, 3, 2, 3)), ('0_conv/b', (3,)), ('2_conv/w', (3, 2, 3, 2)), ('2_conv/b', (2,))]


def emit(kind, name, t):
    t = t.detach()
    shape = ','.join(str(d) for d in t.shape) if t.dim() > 0 else '-'
    vals = ' '.join('%.16g' % v for v in t.reshape(-1).tolist())
    print(kind, name, shape, vals)


def jacobian(f, p, x):
    """J [N, out..., P] with the parameters in the order of p."""
    j = jacrev(f)(p, x)
    fx = f(p, x)
    return torch.cat([j[k].reshape(*fx.shape, -1) for k in p], dim=-1)


def nt_kernel(j1, j2, trace, diagonal):
    """neural-tangents' layout from the Jacobians: traced axes contracted, diagonal axes once, others paired."""
    rank = j1.dim() - 1
    letters = 'abcdefgh'
    primes = 'ABCDEFGH'
    s1, s2, out = [], [], []
    for i in range(rank):
        if i in trace:
            s1.append(letters[i])
            s2.append(letters[i])
        elif i in diagonal:
            s1.append(letters[i])
            s2.append(letters[i])
            out.append(letters[i])
        else:
            s1.append(letters[i])
            s2.append(primes[i])
            out += [letters[i], primes[i]]
    k = torch.einsum(''.join(s1) + 'z,' + ''.join(s2) + 'z->' + ''.join(out), j1, j2)
    return k / math.prod(j1.shape[i] for i in trace)


def nngp(f1, f2, trace, diagonal):
    return nt_kernel(f1.unsqueeze(-1), f2.unsqueeze(-1), trace, diagonal)


def axes_name(trace, diagonal):
    return 't' + ('.'.join(map(str, trace)) or 'none') + '_d' + ('.'.join(map(str, diagonal)) or 'none')


def taylor(f, p0, degree):
    """neural-tangents' linearize (degree 1) and taylor_expand(f, p0, 2) with nested jvps along dp = p - p0."""
    def f_exp(p, x):
        dp = {k: p[k] - p0[k] for k in p0}
        g = lambda q: f(q, x)
        if degree == 1:
            y0, d1 = jvp(g, (p0,), (dp,))
            return y0 + d1
        first = lambda q: jvp(g, (q,), (dp,))[1]
        (y0, d1), (_, d2) = jvp(g, (p0,), (dp,)), jvp(first, (p0,), (dp,))
        return y0 + d1 + 0.5 * d2
    return f_exp


# the NNGP shares the layout code of the NTK: a few combinations of the conv network's axes suffice
NNGP_AXES = (((), ()), ((3,), ()), ((0,), ()), ((), (0,)), ((3,), (0,)), ((1, 2), (0, 3)), ((0, 1, 2, 3), ()))


def main():
    x_fcn = {n: normal(*s) for n, s in (('x1', (2, 4)), ('x2', (2, 4)), ('x3', (3, 4)))}
    x_conv = {n: normal(*s) for n, s in (('x1', (2, 5, 6, 2)), ('x2', (2, 5, 6, 2)), ('x3', (3, 5, 6, 2)))}
    nets = {
        'fcn-ntk': (fcn_fn('ntk'), init(FCN_SHAPES, 'ntk', 1.5, 0.05), x_fcn),
        'fcn-standard': (fcn_fn('standard'), init(FCN_SHAPES, 'standard', 1.5, 0.05), x_fcn),
        # stax's Dense(b_std=0., parameterization='standard'): a trainable bias initialised to 0
        'fcn-standard-b0': (fcn_fn('standard'), init(FCN_SHAPES, 'standard', 1.5, 0.0), x_fcn),
        'conv-ntk': (conv_fn('ntk'), init(CONV_SHAPES, 'ntk', 1.3, 0.2), x_conv),
        'conv-standard': (conv_fn('standard'), init(CONV_SHAPES, 'standard', 1.3, 0.2), x_conv),
    }
    for net, (f, p, xs) in nets.items():
        for k, t in p.items():
            emit('param', net + ':' + k, t)
    for name in ('x1', 'x2', 'x3'):
        emit('input', 'fcn:' + name, x_fcn[name])
        emit('input', 'conv:' + name, x_conv[name])
    for net, (f, p, xs) in nets.items():
        j = {n: jacobian(f, p, x) for n, x in xs.items()}
        fx = {n: f(p, x) for n, x in xs.items()}
        rank = fx['x1'].dim()
        emit('output', net + ':x1', fx['x1'])
        every = 'conv-ntk' == net
        combos = []
        for assign in itertools.product((0, 1, 2), repeat=rank):  # 0 paired, 1 traced, 2 diagonal
            trace = tuple(i for i in range(rank) if assign[i] == 1)
            diagonal = tuple(i for i in range(rank) if assign[i] == 2)
            if every or (diagonal == () and trace in ((), (rank - 1,))):
                combos.append((trace, diagonal))
        for trace, diagonal in combos:
            for other in ('x2', 'x1', 'x3'):
                if other == 'x3' and (0 in trace or 0 in diagonal):
                    continue
                name = net + ':x1:' + other + ':' + axes_name(trace, diagonal)
                emit('ntk', name, nt_kernel(j['x1'], j[other], trace, diagonal))
                if not every or (trace, diagonal) in NNGP_AXES:
                    emit('nngp', name, nngp(fx['x1'], fx[other], trace, diagonal))
        # Theta.v over all axes of f(x2): (Theta v)[a] = sum_b Theta[a, b] v[b]
        for other in ('x3', 'x1'):
            v = normal(*fx[other].shape)
            full = nt_kernel(j['x1'], j[other], (), ())
            r = rank
            perm = [2 * i for i in range(r)] + [2 * i + 1 for i in range(r)]
            theta = full.permute(*perm).reshape(fx['x1'].numel(), fx[other].numel())
            emit('vector', net + ':' + other, v)
            emit('ntk_vp', net + ':x1:' + other, (theta @ v.reshape(-1)).reshape(fx['x1'].shape))
        if net in ('fcn-ntk', 'conv-ntk'):
            delta = {k: 0.3 * normal(*t.shape) for k, t in p.items()}
            shifted = {k: p[k] + delta[k] for k in p}
            for k, t in shifted.items():
                emit('shifted', net + ':' + k, t)
            for degree, label in ((1, 'linearize'), (2, 'taylor2')):
                g = taylor(f, p, degree)
                emit('expansion', net + ':' + label, g(shifted, xs['x1']))
            g2 = taylor(f, p, 2)
            emit('expansion_ntk', net + ':taylor2:x1:x3',
                 nt_kernel(jacobian(g2, shifted, xs['x1']), jacobian(g2, shifted, xs['x3']), (), ()))


if __name__ == '__main__':
    main()
