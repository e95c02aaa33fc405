package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.Tensor;

/**
 * The neural-tangents-shaped entry point {@code gpInference(trainTrain, y, diagReg).predict(get, testTrain,
 * testTest)} gives the numbers of {@link GpInference#infer} and {@link GpInference#inferVariances} (its cached
 * factorisation is the one they make, and the rest is one code path): the same inputs give the same numbers, bit for
 * bit, and bad input one line naming the argument.
 */
class GpInferenceEntryPointTest {
    private static final int N = 6;
    private static final int M = 4;
    private static final int O = 2;

    private final double[][] theta = GpInferenceTest.joint(1, 5, 0.05);
    private final double[][] nngp = GpInferenceTest.joint(2, 3, 0.0);
    private final Tensor ntkDD = GpInferenceTest.block(theta, 0, N, 0, N);
    private final Tensor ntkTD = GpInferenceTest.block(theta, N, M, 0, N);
    private final Tensor ntkTT = GpInferenceTest.block(theta, N, M, N, M);
    private final Tensor nngpDD = GpInferenceTest.block(nngp, 0, N, 0, N);
    private final Tensor nngpTD = GpInferenceTest.block(nngp, N, M, 0, N);
    private final Tensor nngpTT = GpInferenceTest.block(nngp, N, M, N, M);
    private final Tensor y = targets();

    private static Tensor targets() {
        SplittableRandom r = new SplittableRandom(3);
        double[] v = new double[N * O];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextGaussian();
        }
        return Tensor.of(v, N, O);
    }

    private static Tensor diagonal(Tensor k) {
        double[] d = new double[k.dim(0)];
        for (int i = 0; i < d.length; i++) {
            d[i] = k.get(i, i);
        }
        return Tensor.of(d, d.length);
    }

    @ParameterizedTest
    @EnumSource(Posterior.class)
    void theEntryPointGivesTheNumbersOfInfer(Posterior g) {
        Kernels dd = new Kernels(nngpDD, ntkDD);
        Kernels td = new Kernels(nngpTD, ntkTD);
        Kernels tt = new Kernels(nngpTT, ntkTT);
        for (boolean absolute : new boolean[] {false, true}) {
            DiagReg reg = absolute ? DiagReg.absolute(0.02) : DiagReg.relative(0.01);
            // the predictor keeps its factorisations (native memory) until closed
            try (GpInference.Predictor p = GpInference.gpInference(dd, y, reg);
                 Gaussian old = GpInference.infer(g, ntkDD, ntkTD, ntkTT, nngpDD, nngpTD, nngpTT, y,
                         reg, true);
                 Gaussian cov = p.predict(g, td, tt);
                 Gaussian oldMean = GpInference.infer(g, ntkDD, ntkTD, null, nngpDD, nngpTD, null, y,
                         reg, false);
                 Gaussian mean = p.predict(g, td);
                 Gaussian oldVar = GpInference.inferVariances(g, ntkDD, ntkTD, diagonal(ntkTT), nngpDD, nngpTD,
                         diagonal(nngpTT), y, reg);
                 Gaussian var = p.predictVariances(g, td, new Kernels(diagonal(nngpTT), diagonal(ntkTT)))) {
                assertThat(cov.mean().toDoubleArray()).containsExactly(old.mean().toDoubleArray());
                assertThat(cov.covariance().toDoubleArray()).containsExactly(old.covariance().toDoubleArray());
                assertThat(mean.mean().toDoubleArray()).containsExactly(oldMean.mean().toDoubleArray());
                assertThat(mean.covariance()).isNull();
                assertThat(var.mean().toDoubleArray()).containsExactly(oldVar.mean().toDoubleArray());
                assertThat(var.variances().toDoubleArray()).containsExactly(oldVar.variances().toDoubleArray());
                assertThat(mean.mean().shape()).containsExactly(M, O);
            }
        }
    }

    @Test
    void onlyTheKernelsAPosteriorReadsAreNeeded() {
        try (GpInference.Predictor ntkOnlyGp = GpInference.gpInference(Kernels.ofNtk(ntkDD), y, DiagReg.relative(1e-3));
             GpInference.Predictor nngpOnlyGp = GpInference.gpInference(Kernels.ofNngp(nngpDD), y,
                     DiagReg.relative(1e-3));
             Gaussian ntkgp = ntkOnlyGp.predict(Posterior.NTKGP, Kernels.ofNtk(ntkTD), Kernels.ofNtk(ntkTT));
             Gaussian old = GpInference.infer(Posterior.NTKGP, ntkDD, ntkTD, ntkTT, null, null, null, y,
                     DiagReg.relative(1e-3), true);
             Gaussian nngpPost = nngpOnlyGp.predict(Posterior.NNGP, Kernels.ofNngp(nngpTD));
             Gaussian oldNngp = GpInference.infer(Posterior.NNGP, null, null, null, nngpDD, nngpTD, null, y,
                     DiagReg.relative(1e-3), false)) {
            assertThat(ntkgp.covariance().toDoubleArray()).containsExactly(old.covariance().toDoubleArray());
            assertThat(nngpPost.mean().toDoubleArray()).containsExactly(oldNngp.mean().toDoubleArray());
        }
        // the ntk covariance needs the NNGP: refused by name, not computed from a missing kernel
        try (GpInference.Predictor ntkOnly = GpInference.gpInference(Kernels.ofNtk(ntkDD), y, DiagReg.relative(1e-3))) {
            assertThatThrownBy(() -> ntkOnly.predict(Posterior.NTK, Kernels.ofNtk(ntkTD), Kernels.ofNtk(ntkTT)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gp_inference: the train-train NNGP (the NTK covariance needs both kernels) kernel "
                            + "is needed");
        }
    }

    @Test
    void badInputIsOneLineNamingTheArgument() {
        assertOneLine(() -> new Kernels(null, null), "gp_inference: Kernels: nngp and ntk are both null");
        assertOneLine(() -> GpInference.gpInference(null, y, DiagReg.relative(0.1)), "gp_inference: trainTrain:");
        assertOneLine(() -> GpInference.gpInference(Kernels.ofNtk(ntkDD), null, DiagReg.relative(0.1)),
                "gp_inference: targets must not be null");
        assertOneLine(() -> GpInference.gpInference(Kernels.ofNtk(ntkDD), y, DiagReg.relative(-1)),
                "diag_reg: expected a finite "
                + "number >= 0, got -1.0");
        assertOneLine(() -> GpInference.gpInference(Kernels.ofNtk(ntkDD), y, DiagReg.relative(Double.NaN)),
                "diag_reg:");
        GpInference.Predictor p = GpInference.gpInference(Kernels.ofNtk(ntkDD), y, DiagReg.relative(0.1));
        assertOneLine(() -> p.predict(Posterior.NTKGP, null), "gp_inference: testTrain:");
        assertOneLine(() -> p.predict(Posterior.NTKGP, Kernels.ofNtk(ntkTD), null), "gp_inference: testTest:");
        assertOneLine(() -> p.predictVariances(Posterior.NTKGP, Kernels.ofNtk(ntkTD), null),
                "gp_inference: testDiagonal:");
        assertOneLine(() -> p.predict(null, Kernels.ofNtk(ntkTD)), "gp_inference: the posterior must be one of");
        // a test-train kernel of the wrong width: the existing shape check, through the new entry point
        assertOneLine(() -> p.predict(Posterior.NTKGP, Kernels.ofNtk(ntkTT)),
                "gp_inference: a test-train kernel must be [M, 6], got [4, 4]");
    }

    @Test
    void posteriorNamesParseAndANullNameIsOneLine() {
        assertThat(Posterior.parse(" NTK-GP ")).isEqualTo(Posterior.NTKGP);
        assertThat(Posterior.parse("nngp")).isEqualTo(Posterior.NNGP);
        // was a NullPointerException from text.trim()
        assertOneLine(() -> Posterior.parse(null), "--posterior: expected nngp, ntk or ntkgp, got null");
        assertOneLine(() -> Posterior.parse("gp"), "--posterior: expected nngp, ntk or ntkgp, got 'gp'");
    }

    @Test
    void aPosteriorWithTheOdeNamesOnlyWhatWasGiven() {
        org.ntk4j.ntk.KernelKind trace = org.ntk4j.ntk.KernelKind.trace();
        double[] ts = {1, Double.POSITIVE_INFINITY};
        String prefix = "--posterior: the posteriors (gp_inference) and trained ensembles "
                + "(gradient_descent_mse_ensemble) are for the MSE loss without momentum; drop ";
        // was "drop --loss mse and --momentum": the MSE loss, which was not the trouble, named to be dropped
        assertThatThrownBy(() -> PredictRequest.checkSettings(trace, ts, Posterior.NTK, Loss.MSE, 0.5, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(prefix + "--momentum");
        assertThatThrownBy(() -> PredictRequest.checkSettings(trace, ts, Posterior.NNGP, Loss.CROSS_ENTROPY,
                Double.NaN, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(prefix + "--loss cross-entropy");
        assertThatThrownBy(() -> PredictRequest.checkSettings(trace, ts, Posterior.NTK, Loss.CROSS_ENTROPY, 0.5,
                false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(prefix + "--loss cross-entropy and --momentum");
    }

    private static void assertOneLine(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String prefix) {
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(prefix)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
