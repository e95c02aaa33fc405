"""The expected values of NumpyPredictOracleTest (ntk4j-core, org.ntk4j.predict), computed independently in float64.

neural-tangents' closed forms written out with NumPy's eigh/solve (its predict.gradient_descent_mse with
diag_reg relative to trace/dim, gp_inference's three posteriors, max_learning_rate, gradient_descent_mse_ensemble's
finite-time einsums); run with python3 and paste the printed numbers into the test.
"""
import numpy as np
np.set_printoptions(precision=17)
def j(a): return ', '.join(repr(float(v)) for v in np.asarray(a).ravel())
# shared layout: N = 3, O = 2, M = 2
K = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
Ktd = np.array([[1.0, 0.5, 0.2], [0.3, -0.4, 0.9]])
y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
f0 = np.array([[0.1, -0.2], [0.3, 0.05], [-0.1, 0.2]]); f0t = np.array([[0.2, 0.1], [-0.3, 0.4]])
lr, reg = 0.7, 1e-2
r = reg * np.trace(K) / 3
lam, V = np.linalg.eigh(K + r * np.eye(3))
def shared(t):
    c = V.T @ (y - f0)
    if t == np.inf:
        return y, f0t + Ktd @ np.linalg.solve(K + r * np.eye(3), y - f0)
    s = lr * t / y.size
    return f0 + V @ (-np.expm1(-lam * s)[:, None] * c), f0t + Ktd @ (V @ ((-np.expm1(-lam * s) / lam)[:, None] * c))
print('shared: r =', repr(r))
for t in [0.5, 40.0, np.inf]:
    tr, te = shared(t)
    print('t', t, '\n train', j(tr), '\n test', j(te))
print('max lr', repr(2 * y.size / np.linalg.eigvalsh(K)[-1]), repr(2 * 1.5 * y.size / np.linalg.eigvalsh(K)[-1]))
# full layout: N = 2, O = 2, M = 1: Θ[a, b, k, l]
T2 = np.array([[3.0, 0.4, 1.0, 0.2], [0.4, 2.5, -0.3, 0.6], [1.0, -0.3, 2.0, 0.1], [0.2, 0.6, 0.1, 1.5]])
Tf = T2.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3)
Ttd2 = np.array([[0.5, 0.1, 0.3, -0.2], [0.0, 0.7, 0.2, 0.4]])
Ttd = Ttd2.reshape(1, 2, 2, 2).transpose(0, 2, 1, 3)
yf = np.array([[0.0, 1.0], [1.0, 0.0]])
print('full K', j(Tf)); print('full Ktd', j(Ttd))
lam2, V2 = np.linalg.eigh(T2)
for t in [3.0, np.inf]:
    rr = yf.reshape(-1)
    if t == np.inf:
        te = Ttd2 @ np.linalg.solve(T2, rr)
    else:
        s = 1.0 * t / yf.size
        te = Ttd2 @ (V2 @ ((-np.expm1(-lam2 * s) / lam2) * (V2.T @ rr)))
    print('full t', t, 'test', j(te))
# GP: N = 3, M = 2, O = 2; Θ and K (NNGP) joint PSD matrices over 5 points
Th = np.array([[4.0, 1.0, 0.5, 1.0, 0.3], [1.0, 3.0, 0.2, 0.5, -0.4], [0.5, 0.2, 2.0, 0.2, 0.9],
               [1.0, 0.5, 0.2, 2.0, 0.1], [0.3, -0.4, 0.9, 0.1, 1.5]])
Kn = np.array([[2.0, 0.6, 0.1, 0.5, 0.2], [0.6, 1.5, 0.3, 0.2, -0.1], [0.1, 0.3, 1.2, 0.1, 0.4],
               [0.5, 0.2, 0.1, 1.1, 0.05], [0.2, -0.1, 0.4, 0.05, 0.9]])
assert np.linalg.eigvalsh(Th)[0] > 0 and np.linalg.eigvalsh(Kn)[0] > 0
n = 3; reg = 1e-2
for g in ['nngp', 'ntk', 'ntkgp']:
    kk = Kn if g == 'nngp' else Th
    kdd, ktd = kk[:n, :n], kk[n:, :n]
    A = kdd + reg * np.trace(kdd) / n * np.eye(n)
    mean = ktd @ np.linalg.solve(A, y)
    if g != 'ntk':
        cov = kk[n:, n:] - ktd @ np.linalg.solve(A, ktd.T)
    else:
        Am = ktd @ np.linalg.inv(A)
        cov = Kn[n:, n:] + Am @ Kn[:n, :n] @ Am.T - Am @ Kn[n:, :n].T - Kn[n:, :n] @ Am.T
    print(g, 'mean', j(mean), '\n  cov', j(cov))
# ensemble: gradient_descent_mse_ensemble at finite t, test set, compute_cov, written as neural-tangents' einsums
# (same Th, Kn, y, n; learning rate 0.7, diag_reg 1e-2 relative to each decomposed kernel's trace/n)
def expm1(ev, t, size): return np.expm1(-np.maximum(ev, 0.) * t / size)
def inv_expm1(ev, t, size): return expm1(ev, t, size) / np.abs(ev)
def add_reg(A, reg): return A + reg * np.trace(A) / A.shape[0] * np.eye(A.shape[0])
lr = 0.7
for g in ['nngp', 'ntk']:
    kk = Kn if g == 'nngp' else Th
    evals, evecs = np.linalg.eigh(add_reg(kk[:n, :n], 1e-2)); evals = evals[None]
    ktd = kk[n:, :n]
    for t0 in [0.5, 40.0]:
        t = np.array([[t0 * lr]])
        neg = -inv_expm1(evals, t, y.size)
        mean = np.einsum('lj,ji,ti,ki,k...->tl...', ktd, evecs, neg, evecs, y)
        if g == 'nngp':
            cov = Kn[n:, n:][None] - np.einsum('mj,ji,ti,ki,lk->tml', ktd, evecs, -inv_expm1(evals, 2 * t, y.size),
                                               evecs, ktd)
        else:
            term_1 = np.einsum('mi,ti,ki,lk->tml', evecs, neg, evecs, ktd)
            term_2 = np.einsum('mj,ji,ti,ki,lk->tml', ktd, evecs, neg, evecs, Kn[n:, :n])
            term_2 += np.moveaxis(term_2, 1, 2)
            cov = np.einsum('tji,jk,tkl->til', term_1, Kn[:n, :n], term_1) - term_2 + Kn[n:, n:][None]
        print('ensemble', g, t0, 'mean', j(mean), '\n  cov', j(cov))
# full, regularised: T2/Ttd2 above, diag_reg 1e-2 relative to trace/(N·O), f0 ≠ 0, learning rate 0.7
f0f = np.array([[0.1, -0.2], [0.3, 0.05]]); f0tf = np.array([[0.2, -0.1]])
A = add_reg(T2, 1e-2); ev, V = np.linalg.eigh(A); rhs = (f0f - yf).reshape(-1)
for t0 in [3.0, np.inf]:
    if t0 == np.inf:
        tr = yf.reshape(-1); te = f0tf.reshape(-1) + Ttd2 @ np.linalg.solve(A, -rhs)
    else:
        tr = f0f.reshape(-1) + V @ (expm1(ev, t0 * lr, yf.size) * (V.T @ rhs))
        te = f0tf.reshape(-1) + Ttd2 @ (V @ (inv_expm1(ev, t0 * lr, yf.size) * (V.T @ rhs)))
    print('full, regularised', t0, 'train', j(tr), '\n  test', j(te))
