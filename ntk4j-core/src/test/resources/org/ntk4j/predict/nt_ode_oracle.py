"""Writes nt_ode_oracle.txt, the float64 oracle of NeuralTangentsOdeOracleTest: neural-tangents'
predict.gradient_descent(loss, k_train_train, y_train, learning_rate, momentum, trace_axes) written out from its
source and integrated by classical Runge-Kutta (RK4) at steps of about 1e-3 and 5e-4, Richardson-extrapolated
(error O(h^5), below 1e-13 here), the loss's gradient by torch.autograd (nothing from ntk4j):

    /usr/bin/python3 nt_ode_oracle.py > nt_ode_oracle.txt

    no momentum:  t <- learning_rate * t;  df/dt = -K . dL/df_train (train and test, K the test-train kernel for test)
    momentum mu:  lr' = sqrt(learning_rate), mu' = (mu - 1) / lr', t <- lr' * t;
                  df/dt = q,  dq/dt = -K . dL/df_train + mu' q,  q(0) = 0
with trace_axes=(-1,) (an [N, N] kernel read as K (x) I_O) or trace_axes=() (a full [N, N, O, O] kernel), and the
losses of its docstring: cross-entropy -mean(log_softmax(f) * y) (soft targets whose rows do not sum to 1, so the
sum over y matters) and MSE 0.5 * mean((f - y)^2).
Line format: `KIND NAME SHAPE v v v ...`.
"""
import math

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261207)
N, O, M = 4, 3, 2


def emit(kind, name, a):
    a = np.asarray(a, dtype=np.float64)
    print(kind, name, ','.join(str(d) for d in a.shape), ' '.join('%.17g' % v for v in a.reshape(-1)))


def psd(n, scale):
    a = rng.standard_normal((n, n + 2))
    return scale * a @ a.T / (n + 2)


def cross_entropy(f, y):
    return -torch.mean(torch.log_softmax(f, dim=-1) * y)


def mse(f, y):
    return 0.5 * torch.mean((f - y) ** 2)


def grad(loss, f, y):
    ft = torch.tensor(f, requires_grad=True)
    loss(ft, torch.tensor(y)).backward()
    return ft.grad.numpy()


def apply(k, g):
    """-K . g over the train axes: [N, N] kernels act on each output alike, full ones over (example, output)."""
    if k.ndim == 2:
        return -(k @ g)
    return -np.einsum('abkl,bl->ak', k, g)


def solve(loss, k, ktd, y, f0, f0t, lr, momentum, ts):
    n, m = f0.size, f0t.size
    if momentum is not None:
        lr = math.sqrt(lr)
        mu = (momentum - 1) / lr

    def rhs(_, s):
        f = s[:n].reshape(f0.shape)
        g = grad(loss, f, y)
        df = np.concatenate([apply(k, g).reshape(-1), apply(ktd, g).reshape(-1)])
        if momentum is None:
            return df
        q = s[n + m:]
        return np.concatenate([q, df + mu * q])

    s0 = np.concatenate([f0.reshape(-1), f0t.reshape(-1)])
    if momentum is not None:
        s0 = np.concatenate([s0, np.zeros(n + m)])
    fine, coarse = rk4(rhs, s0, [lr * t for t in ts], 2e-3 / 2), rk4(rhs, s0, [lr * t for t in ts], 2e-3)
    out = []
    for a, b in zip(fine, coarse):
        s = (16 * a - b) / 15
        out.append((s[:n].reshape(f0.shape), s[n:n + m].reshape(f0t.shape)))
    return out


def rk4(rhs, s, times, h_max):
    """Classical RK4 from 0 through each time in turn, each segment in equal steps of at most h_max."""
    out, t0 = [], 0.0
    for t1 in times:
        steps = max(1, math.ceil((t1 - t0) / h_max))
        h = (t1 - t0) / steps
        for i in range(steps):
            t = t0 + i * h
            k1 = rhs(t, s)
            k2 = rhs(t + h / 2, s + h / 2 * k1)
            k3 = rhs(t + h / 2, s + h / 2 * k2)
            k4 = rhs(t + h, s + h * k3)
            s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(s.copy())
        t0 = t1
    return out


def main():
    k = psd(N, 3.0)
    joint = psd(N + M, 3.0)
    ktd = joint[N:, :N]
    kf = psd(N * O, 2.0).reshape(N, O, N, O).transpose(0, 2, 1, 3)
    kfj = psd((N + M) * O, 2.0).reshape(N + M, O, N + M, O).transpose(0, 2, 1, 3)
    ktdf = kfj[N:, :N]
    y = rng.uniform(0.0, 1.0, (N, O)) * 0.8
    f0 = rng.standard_normal((N, O))
    f0t = rng.standard_normal((M, O))
    ts = [0.5, 2.0, 6.0]
    for name, a in (('k', k), ('ktd', ktd), ('kfull', kf), ('ktdfull', ktdf), ('y', y), ('f0', f0), ('f0t', f0t),
                    ('t', ts)):
        emit('input', name, a)
    cases = [('ce', cross_entropy, None, 'k'), ('ce', cross_entropy, 0.9, 'k'), ('mse', mse, 0.5, 'k'),
             ('ce', cross_entropy, 0.9, 'full'), ('ce', cross_entropy, None, 'full')]
    for lname, loss, momentum, kind in cases:
        kk, kt = (k, ktd) if kind == 'k' else (kf, ktdf)
        name = '%s:%s:%s' % (lname, 'none' if momentum is None else momentum, kind)
        for i, (tr, te) in enumerate(solve(loss, kk, kt, y, f0, f0t, 0.7, momentum, ts)):
            emit('train', name + ':' + str(i), tr)
            emit('test', name + ':' + str(i), te)


if __name__ == '__main__':
    main()
