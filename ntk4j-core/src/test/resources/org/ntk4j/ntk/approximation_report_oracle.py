"""Writes approximation_report_oracle.txt, the float64 oracle of ApproximationReportOracleTest: every figure of
ntk4j's ApproximationReport recomputed with NumPy from the kernels ntk4j computed (approximation_report_kernels.txt:
per case the full train kernel [N, N, O, O], the full test kernel [M, N, O, O], the targets [N, O], and each
N x N kind's train [N, N] and test [M, N] kernels; the test checks that ntk4j still computes those kernels):

    python3 approximation_report_oracle.py < approximation_report_kernels.txt > approximation_report_oracle.txt

Independently of ntk4j's Java, with whole matrices at once:
    Theta as an NO x NO matrix (sample-major), K read as kron(K, I_O)
    relative Frobenius error    ||Theta - kron(K, I_O)||_F / ||Theta||_F
    lambda_max relative error   |lmax(K) - lmax(Theta)| / |lmax(Theta)|          (numpy.linalg.eigvalsh)
    lambda_min ratio            lmin(K) / lmin(Theta);  NaN when Theta is singular to working precision;
                                lmin(K) taken as 0 when K is (its computed lmin is round-off)
    condition number ratio      cond(K) / cond(Theta);  cond = inf for a singular kernel; NaN when Theta is singular
    singular                    lmin <= lmax * dim * eps (numpy.linalg.matrix_rank's tolerance)
    predictions                 Kt (K + r I)^-1 Y, r = 1e-4 * trace(K) / dim   (numpy.linalg.solve)
    prediction difference       ||p - p_full||_F / ||p_full||_F; argmax agreement; accuracy against labels i mod O
Output: per case a line 'case NAME singular(0|1) full_accuracy', then per kind 'row KIND frob lmax lmin cond pred
agreement accuracy'.
"""
import sys

import numpy as np

EPS = np.finfo(np.float64).eps


def singular(eig):
    return not eig[0] > eig[-1] * len(eig) * EPS


def predict(k, kt, y):
    r = 1e-4 * np.trace(k) / k.shape[0]
    return kt @ np.linalg.solve(k + r * np.eye(k.shape[0]), y)


def report(name, d, kinds):
    th = d['full']
    n, _, o, _ = th.shape
    full = th.transpose(0, 2, 1, 3).reshape(n * o, n * o)
    m = d['fulltest'].shape[0]
    full_test = d['fulltest'].transpose(0, 2, 1, 3).reshape(m * o, n * o)
    labels = np.arange(m) % o
    pf = predict(full, full_test, d['y'].reshape(-1)).reshape(m, o)
    ef = np.linalg.eigvalsh(full)
    fs = singular(ef)
    print('case %s %d %r' % (name, int(fs), float((pf.argmax(1) == labels).mean())))
    for kind in kinds:
        k = d['K_' + kind]
        ek = np.linalg.eigvalsh(k)
        frob = np.linalg.norm(full - np.kron(k, np.eye(o))) / np.linalg.norm(full)
        lmax = abs(ek[-1] - ef[-1]) / abs(ef[-1])
        cond_k = np.inf if singular(ek) else ek[-1] / ek[0]
        lmin = np.nan if fs else (0.0 if singular(ek) else ek[0]) / ef[0]
        cond = np.nan if fs else cond_k / (ef[-1] / ef[0])
        p = predict(k, d['T_' + kind], d['y'])
        pred = np.linalg.norm(p - pf) / np.linalg.norm(pf)
        agree = (p.argmax(1) == pf.argmax(1)).mean()
        acc = (p.argmax(1) == labels).mean()
        print('row ' + kind + ' ' + ' '.join(repr(float(v)) for v in (frob, lmax, lmin, cond, pred, agree, acc)))


def main():
    cases = []
    for line in sys.stdin:
        p = line.split()
        if p[0] == 'case':
            cases.append((p[1], {}, []))
            continue
        shape = [int(s) for s in p[1].strip('[]').split(',')]
        cases[-1][1][p[0]] = np.array([float(v) for v in p[2:]]).reshape(shape)
        if p[0].startswith('K_'):
            cases[-1][2].append(p[0][2:])
    for name, d, kinds in cases:
        report(name, d, kinds)


main()
