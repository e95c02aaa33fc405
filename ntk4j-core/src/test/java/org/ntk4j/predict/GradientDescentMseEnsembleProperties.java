package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Scale;
import org.assertj.core.data.Offset;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.Tensor;

class GradientDescentMseEnsembleProperties {
    /**
     * For any sizes, time, learning rate and regulariser: the mean is [M, O], the covariance [M, M] and exactly
     * symmetric, the variances [M] its diagonal, the mean alone the same mean, and the ensemble's mean
     * {@link GradientDescentMse}'s from f0 = 0.
     */
    @Property(tries = 40)
    void shapesAndTheDiagonal(@ForAll @IntRange(min = 1, max = 8) int n,
                              @ForAll @IntRange(min = 1, max = 5) int m,
                              @ForAll @IntRange(min = 1, max = 4) int o,
                              @ForAll @DoubleRange(min = 0, max = 100) double t,
                              @ForAll @DoubleRange(min = 0.1, max = 5) double eta,
                              @ForAll @DoubleRange(min = 1e-3, max = 1) @Scale(4) double diagReg,
                              @ForAll boolean ntk,
                              @ForAll long seed) {
        GradientDescentMseEnsembleTest.Problem p = GradientDescentMseEnsembleTest.Problem.random(seed, n, m, o);
        Posterior get = ntk ? Posterior.NTK : Posterior.NNGP;
        try (Tensor ntkDD = p.dd(p.theta()); Tensor ntkTD = p.td(p.theta()); Tensor ntkTT = p.tt(p.theta());
             Tensor nngpDD = p.dd(p.nngp()); Tensor nngpTD = p.td(p.nngp()); Tensor nngpTT = p.tt(p.nngp());
             Tensor nngpDiag = p.diag(p.nngp()); Tensor ntkDiag = p.diag(p.theta()); Tensor y = p.targets();
             GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(new Kernels(nngpDD, ntkDD), y, eta,
                     DiagReg.relative(diagReg));
             GradientDescentMse gd = GradientDescentMse.fromTensor(ntk ? ntkDD : nngpDD, y, eta,
                     DiagReg.relative(diagReg));
             Gaussian full = ens.predict(get, t, new Kernels(nngpTD, ntkTD), new Kernels(nngpTT, ntkTT));
             Gaussian var = ens.predictVariances(get, t, new Kernels(nngpTD, ntkTD), new Kernels(nngpDiag, ntkDiag));
             Gaussian mean = ens.predict(get, t, new Kernels(nngpTD, ntkTD));
             Tensor f = gd.predictTest(t, ntk ? ntkTD : nngpTD, null, null)) {
            assertThat(full.mean().shape()).containsExactly(m, o);
            assertThat(full.covariance().shape()).containsExactly(m, m);
            assertThat(var.variances().shape()).containsExactly(m);
            assertThat(mean.covariance()).isNull();
            assertThat(mean.mean().toDoubleArray()).containsExactly(full.mean().toDoubleArray());
            double scale = 1;
            for (int i = 0; i < m; i++) {
                scale = Math.max(scale, p.nngp()[n + i][n + i]);
            }
            for (int i = 0; i < m; i++) {
                assertThat(var.variances().getFlat(i))
                        .isCloseTo(full.covariance().getFlat(i * m + i), Offset.offset(1e-12 * scale));
                for (int j = 0; j < m; j++) {
                    assertThat(full.covariance().getFlat(i * m + j)).isEqualTo(full.covariance().getFlat(j * m + i));
                }
            }
            GradientDescentMseEnsembleTest.assertClose(full.mean(), f, 1e-12);
        }
    }
}
