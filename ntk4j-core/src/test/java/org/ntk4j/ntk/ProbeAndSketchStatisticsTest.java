package org.ntk4j.ntk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.ntk4j.cpu.Layout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * probes:R and projected:K as estimators of trace, held to their variance, not only to "the error falls": fixed seeds,
 * so the statistical bands below are checked once and cannot flake.
 */
class ProbeAndSketchStatisticsTest {
    private static final Model NET = Zoo.parse("fcn(depth=1,width=12,out=5)");
    private static final int[] PER = {3};

    /**
     * One probe ε/√O (ε Rademacher) on a block A = Θ(x1, x2): εᵀAε/O = tr A/O + Σ_{k &lt; m} (A_km + A_mk) ε_k ε_m / O,
     * so its variance is exactly Σ_{k &lt; m} (A_km + A_mk)² / O², and R probes divide it by R. Over S seeds the mean
     * squared error per seed is that variance (to a few 1/√S), and the mean over seeds is unbiased: its squared
     * error is the variance over S.
     */
    @Test
    void probesHaveTheVarianceOfRademacherQuadraticForms() {
        int r = 2;
        int seeds = 200;
        try (Params p = NET.init(2, PER, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 3)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p);
            double[] full = ntk.kernel(KernelKind.full(), x, null).toDoubleArray(); // [4, 4, O, O]
            double[] trace = ntk.kernel(KernelKind.trace(), x, null).toDoubleArray();
            int o = 5;
            double variance = 0; // Σ over entries of one estimate's variance
            for (int e = 0; e < trace.length; e++) {
                for (int k = 0; k < o; k++) {
                    for (int m = k + 1; m < o; m++) {
                        double s = full[(e * o + k) * o + m] + full[(e * o + m) * o + k];
                        variance += s * s / ((double) o * o * r);
                    }
                }
            }
            double[] mean = new double[trace.length];
            double perSeed = 0;
            for (int s = 0; s < seeds; s++) {
                double[] k = ntk.kernel(KernelKind.parse("probes:" + r, 1000 + s), x, null).toDoubleArray();
                for (int e = 0; e < k.length; e++) {
                    perSeed += (k[e] - trace[e]) * (k[e] - trace[e]) / seeds;
                    mean[e] += k[e] / seeds;
                }
            }
            assertThat(perSeed / variance).as("mean squared error per seed over the exact variance")
                    .isBetween(0.8, 1.25);
            double ofMean = 0;
            for (int e = 0; e < mean.length; e++) {
                ofMean += (mean[e] - trace[e]) * (mean[e] - trace[e]);
            }
            // unbiased: the squared error of the mean is the variance over S (a bias would stay as S grows)
            assertThat(ofMean).as("squared error of the mean of %d estimates", seeds).isLessThan(4 * variance / seeds);
        }
    }

    /**
     * CountSketch: with P columns hashed to K buckets, ⟨Πᵀa, Πᵀb⟩ = ⟨a, b⟩ + Σ_{i≠j} a_i b_j s_i s_j [h_i = h_j],
     * whose variance is exactly C/K (C independent of K, as P(h_i = h_j) = 1/K): the mean squared error times K
     * is the same at K = 64 and K = 1024, and the mean over seeds is unbiased.
     */
    @Test
    void projectionVarianceFallsLikeOneOverK() {
        int seeds = 48;
        try (Params p = NET.init(2, PER, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 3, 4, 3)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p);
            double[] trace = ntk.kernel(KernelKind.trace(), x, null).toDoubleArray();
            double[] scaled = new double[2];
            int[] ks = {64, 1024};
            for (int i = 0; i < ks.length; i++) {
                double[] mean = new double[trace.length];
                double perSeed = 0;
                for (int s = 0; s < seeds; s++) {
                    double[] k = ntk.kernel(KernelKind.parse("projected:" + ks[i], 500 + s), x, null)
                            .toDoubleArray();
                    for (int e = 0; e < k.length; e++) {
                        perSeed += (k[e] - trace[e]) * (k[e] - trace[e]) / seeds;
                        mean[e] += k[e] / seeds;
                    }
                }
                double ofMean = 0;
                for (int e = 0; e < mean.length; e++) {
                    ofMean += (mean[e] - trace[e]) * (mean[e] - trace[e]);
                }
                assertThat(ofMean).as("K=%d: squared error of the mean of %d sketches", ks[i], seeds)
                        .isLessThan(4 * perSeed / seeds);
                scaled[i] = perSeed * ks[i];
            }
            assertThat(scaled[1] / scaled[0]).as("K · mean squared error at K=1024 over that at K=64")
                    .isBetween(0.6, 1.6);
        }
    }

    /** With x2 ≠ x1 (N1 ≠ N2) the sketch is the same Π: the block of the kernel of [x1; x2] with itself. */
    @Test
    void projectionOfTwoInputsIsTheBlockOfTheirJointKernel() {
        try (Params p = NET.init(2, PER, DType.F64); Tensor x1 = Tensor.randomNormal(DType.F64, 4, 3, 3);
             Tensor x2 = Tensor.randomNormal(DType.F64, 5, 2, 3);
             Tensor both = Layout.concatenate(new Tensor[] {x1, x2}, 0)) {
            EmpiricalNtk ntk = EmpiricalNtk.of(NET, p);
            for (String kind : new String[] {"projected:32", "probes:3"}) {
                KernelKind k = KernelKind.parse(kind, 9);
                try (Tensor cross = ntk.kernel(k, x1, x2); Tensor joint = ntk.kernel(k, both, null)) {
                    assertThat(cross.shape()).containsExactly(3, 2);
                    for (int a = 0; a < 3; a++) {
                        for (int b = 0; b < 2; b++) {
                            double want = joint.get(a, 3 + b);
                            assertThat(cross.get(a, b)).as("%s [%d, %d]", kind, a, b)
                                    .isCloseTo(want, within(1e-12 * (1 + Math.abs(want))));
                        }
                    }
                }
            }
        }
    }
}
