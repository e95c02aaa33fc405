package org.ntk4j.predict;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.Examples;

/**
 * {@link Predict#run} with the analytic infinite-width kernels ({@code predict --infinite}): its Gaussians against
 * the Java API's composed by hand ({@link InfiniteLimit#kernel} into {@link GradientDescentMseEnsemble} and
 * {@link GpInference}), its per-example diagonals against the full kernels', and its refusals.
 */
class PredictInfiniteTest {
    static final Model NET = Zoo.parse("fcn(depth=2,width=16,out=3)");
    static final int N = 10;
    static final int M = 6;
    static final int O = 3;

    private final Random random = new Random(5);
    private final Tensor xTr = inputs(N);
    private final Tensor xTe = inputs(M);
    private final int[] yTr = labels(N);
    private final int[] yTe = labels(M);

    private Tensor inputs(int n) {
        double[] x = new double[n * 5];
        for (int i = 0; i < x.length; i++) {
            x[i] = random.nextGaussian();
        }
        return Tensor.of(x, n, 5);
    }

    private int[] labels(int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = random.nextInt(O);
        }
        return l;
    }

    private Tensor oneHot(int[] labels) {
        Tensor t = Tensor.zeros(DType.F64, labels.length, O);
        for (int i = 0; i < labels.length; i++) {
            t.setFlat(i * O + labels[i], 1);
        }
        return t;
    }

    private PredictRequest request(Params p, Posterior post, boolean cov, double... ts) {
        return PredictRequest.of(NET, p, new Examples(xTr, yTr, O), new Examples(xTe, yTe, O))
                .withKind(KernelKind.trace()).withDiagReg(DiagReg.relative(1e-3)).withLearningRate(4).withTimes(ts)
                .withPosterior(post).withCovariance(cov).withInfinite(true);
    }

    private static void assertClose(Tensor actual, Tensor expected, int offset, double tol) {
        double scale = 1;
        for (int i = 0; i < expected.size(); i++) {
            scale = Math.max(scale, Math.abs(expected.getFlat(i)));
        }
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.getFlat(offset + i)).as("flat %d", i)
                    .isCloseTo(expected.getFlat(i), org.assertj.core.data.Offset.offset(tol * scale));
        }
    }

    @Test
    void theEnsembleOfTheLimitIsTheJavaApisComposedByHand() {
        InfiniteLimit lim = InfiniteLimit.of(NET.spec());
        KernelKind trace = KernelKind.trace();
        try (Params p = NET.init(1, new int[] {5}, DType.F64);
             PredictResult res = Predict.run(request(p, Posterior.NTK, true, 5, Double.POSITIVE_INFINITY));
             Tensor thDD = lim.kernel(trace, xTr, null, LimitKernel.NTK, DType.F64);
             Tensor thTD = lim.kernel(trace, xTe, xTr, LimitKernel.NTK, DType.F64);
             Tensor kDD = lim.kernel(trace, xTr, null, LimitKernel.NNGP, DType.F64);
             Tensor kTD = lim.kernel(trace, xTe, xTr, LimitKernel.NNGP, DType.F64);
             Tensor kTT = lim.kernel(trace, xTe, null, LimitKernel.NNGP, DType.F64);
             Tensor y = oneHot(yTr);
             GradientDescentMseEnsemble ens = GradientDescentMseEnsemble.of(new Kernels(kDD, thDD), y, 4,
                     DiagReg.relative(1e-3));
             Gaussian at5 = ens.predict(Posterior.NTK, 5, new Kernels(kTD, thTD), Kernels.ofNngp(kTT));
             Gaussian inf = GpInference.infer(Posterior.NTK, thDD, thTD, null, kDD, kTD, kTT, y, DiagReg.relative(1e-3),
                     true)) {
            assertThat(res.predictions().shape()).containsExactly(2, M, O);
            assertThat(res.covariance().shape()).containsExactly(2, M, M);
            assertClose(res.predictions(), at5.mean(), 0, 1e-12);
            assertClose(res.covariance(), at5.covariance(), 0, 1e-12);
            assertClose(res.predictions(), inf.mean(), M * O, 1e-12);
            assertClose(res.covariance(), inf.covariance(), M * M, 1e-12);
            assertThat(res.points().get(0).meanVariance()).isCloseTo(at5.meanVariance(),
                    org.assertj.core.data.Offset.offset(1e-12));
            // the limit's NTK is no empirical one: the finite network's differs
            try (Tensor empirical = org.ntk4j.ntk.EmpiricalNtk.of(NET, p).kernel(trace, xTr, null)) {
                assertThat(Math.abs(empirical.getFlat(1) - thDD.getFlat(1))).isGreaterThan(1e-6);
            }
        }
    }

    @Test
    void theVariancesFromEachExampleAloneAreTheFullKernelsDiagonal() {
        try (Params p = NET.init(1, new int[] {5}, DType.F64)) {
            for (Posterior post : Posterior.values()) {
                double[] times = post == Posterior.NTKGP ? new double[] {Double.POSITIVE_INFINITY}
                        : new double[] {2, Double.POSITIVE_INFINITY};
                try (PredictResult variances = Predict.run(request(p, post, false, times));
                     PredictResult full = Predict.run(request(p, post, true, times))) {
                    assertThat(variances.covariance()).isNull();
                    assertClose(variances.predictions(), full.predictions(), 0, 1e-12);
                    for (int i = 0; i < times.length; i++) {
                        Tensor c = full.covariance();
                        double expected = 0;
                        for (int j = 0; j < M; j++) {
                            expected += c.getFlat(i * M * M + j * M + j) / M;
                        }
                        assertThat(variances.points().get(i).meanVariance()).as("%s at t = %s", post, times[i])
                                .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-12 * Math.abs(expected)));
                    }
                }
            }
        }
    }

    @Test
    void settingsWithoutMeaningForTheLimitAreRefusedInOneLine() {
        try (Params p = NET.init(1, new int[] {5}, DType.F64)) {
            Examples tr = new Examples(xTr, yTr, O);
            Examples te = new Examples(xTe, yTe, O);
            PredictRequest base = PredictRequest.of(NET, p, tr, te).withKind(KernelKind.trace());
            assertOneLine(() -> base.withInfinite(true), "--infinite: needs --posterior nngp|ntk|ntkgp");
            PredictRequest post = base.withPosterior(Posterior.NTK);
            assertOneLine(() -> post.withMethod(Method.NTK_VECTOR_PRODUCTS, 1L << 30).withInfinite(true),
                    "--infinite: the analytic kernels are a closed form and run no NTK method, so --method vp");
            assertOneLine(() -> post.withKind(KernelKind.projected(8, 1)).withInfinite(true),
                    "--infinite: --kind projected:8 has no infinite-width counterpart");
            Model transformer = Zoo.parse("transformer(out=3)");
            assertOneLine(() -> PredictRequest.of(transformer, p, tr, te).withKind(KernelKind.trace())
                    .withPosterior(Posterior.NTK).withInfinite(true), "--infinite: the analytic");
            assertOneLine(() -> post.withInfinite(true).withMethod(Method.NTK_VECTOR_PRODUCTS, 1L << 30),
                    "--infinite:");
            // the kernels alone over a 100-byte budget: refused before any is computed
            assertOneLine(() -> Predict.run(post.withInfinite(true).withMethod(Method.AUTO, 100).withTimes(1)
                    .withPosterior(Posterior.NTK).withCovariance(true)), "memory budget: the infinite-width kernels "
                    + "(10 training, 6 test examples, f64) take ");
        }
    }

    /**
     * A network built in Java from {@code Layers} (its spec a description) regresses with its composed limit: the
     * zoo's fcn written out layer by layer gives the zoo spec's Gaussians (the composed and closed limits agree to
     * 1e-12); a layer without a rule is refused naming it and its path.
     */
    @Test
    void aNetworkBuiltFromLayersRegressesWithItsComposedLimit() {
        org.ntk4j.nn.Parameterization ntk = org.ntk4j.nn.Parameterization.NTK;
        Model built = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.flatten(),
                org.ntk4j.nn.Layers.dense(16, 1.5, 0.05, ntk), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.dense(16, 1.5, 0.05, ntk), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.dense(O, 1.5, 0.05, ntk)), "the zoo's fcn, built in Java");
        try (Params p = NET.init(1, new int[] {5}, DType.F64);
             PredictResult zoo = Predict.run(request(p, Posterior.NTK, true, 5, Double.POSITIVE_INFINITY));
             PredictResult composed = Predict.run(PredictRequest.of(built, p, new Examples(xTr, yTr, O),
                     new Examples(xTe, yTe,
                             O)).withKind(KernelKind.trace()).withDiagReg(DiagReg.relative(1e-3)).withLearningRate(4)
                     .withTimes(5, Double.POSITIVE_INFINITY).withPosterior(Posterior.NTK).withCovariance(true)
                     .withInfinite(true))) {
            assertClose(composed.predictions(), zoo.predictions(), 0, 1e-10);
            assertClose(composed.covariance(), zoo.covariance(), 0, 1e-10);
        }
        // a Java network described like a zoo spec is not the zoo's network: its own layers give its limit (the
        // zoo's default fcn, depth 3 with relu, would give another kernel)
        Model named = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.flatten(),
                org.ntk4j.nn.Layers.dense(16, 1.5, 0.05, ntk), org.ntk4j.nn.Layers.erf(),
                org.ntk4j.nn.Layers.dense(O, 1.5, 0.05, ntk)), "fcn(out=3)");
        Model zooFcn = Zoo.parse("fcn(out=3)");
        try (Params p = named.init(1, new int[] {5}, DType.F64);
             Params pz = zooFcn.init(1, new int[] {5}, DType.F64);
             PredictResult asZoo = Predict.run(PredictRequest.of(zooFcn, pz, new Examples(xTr, yTr, O),
                     new Examples(xTe, yTe,
                             O)).withKind(KernelKind.trace()).withDiagReg(DiagReg.relative(1e-3)).withLearningRate(4)
                     .withTimes(Double.POSITIVE_INFINITY).withPosterior(Posterior.NTK).withInfinite(true));
             PredictResult own = Predict.run(PredictRequest.of(named, p, new Examples(xTr, yTr, O),
                     new Examples(xTe, yTe,
                             O)).withKind(KernelKind.trace()).withDiagReg(DiagReg.relative(1e-3)).withLearningRate(4)
                     .withTimes(Double.POSITIVE_INFINITY).withPosterior(Posterior.NTK).withInfinite(true))) {
            InfiniteLimit lim = InfiniteLimit.of(named, new int[] {5});
            double[] expected;
            try (Tensor kdd = lim.kernel(KernelKind.trace(), xTr, null, LimitKernel.NTK, DType.F64);
                 Tensor ktd = lim.kernel(KernelKind.trace(), xTe, xTr, LimitKernel.NTK, DType.F64);
                 Tensor y = oneHot(yTr);
                 Gaussian g = GpInference.infer(Posterior.NTK, kdd, ktd, null, null, null, null,
                         y, DiagReg.relative(1e-3), false)) {
                expected = g.mean().toDoubleArray();
            }
            assertThat(own.predictions().toDoubleArray()).hasSize(expected.length);
            double worst = 0;
            double diff = 0;
            double[] got = own.predictions().toDoubleArray();
            double[] zooMean = asZoo.predictions().toDoubleArray();
            for (int i = 0; i < expected.length; i++) {
                worst = Math.max(worst, Math.abs(got[i] - expected[i]));
                diff = Math.max(diff, Math.abs(zooMean[i] - expected[i]));
            }
            assertThat(worst).isLessThan(1e-10);
            assertThat(diff).as("the zoo's fcn is another network").isGreaterThan(1e-3);
        }
        Model norm = new Model(org.ntk4j.nn.Layers.serial(org.ntk4j.nn.Layers.dense(8), org.ntk4j.nn.Layers.relu(),
                org.ntk4j.nn.Layers.layerNorm(), org.ntk4j.nn.Layers.dense(O)), "with a layer norm");
        try (Params p = norm.init(1, new int[] {5}, DType.F64)) {
            assertOneLine(() -> PredictRequest.of(norm, p, new Examples(xTr, yTr, O), new Examples(xTe, yTe, O))
                    .withKind(KernelKind.trace()).withPosterior(Posterior.NTK).withInfinite(true),
                    "infinite limit: layer layer_norm (at path 2_layer_norm) normalises a value that is not Gaussian");
        }
    }

    /**
     * {@link PredictRequest#ofInfinite} starts a request without parameters: {@code of}'s defaults with the posterior
     * and the limit, whose results are those of an empirical request switched to the limit (whose parameters are
     * not read); {@code of} without parameters, {@code ofInfinite} without a posterior and turning the limit off
     * without parameters are refused in one line naming the argument.
     */
    @Test
    void ofInfiniteStartsARequestWithoutParameters() {
        Examples tr = new Examples(xTr, yTr, O);
        Examples te = new Examples(xTe, yTe, O);
        PredictRequest q = PredictRequest.ofInfinite(NET, tr, te, Posterior.NTK);
        try (Params p = NET.init(1, new int[] {5}, DType.F64)) {
            PredictRequest defaults = PredictRequest.of(NET, p, tr, te);
            assertThat(q.params()).isNull();
            assertThat(q.infinite()).isTrue();
            assertThat(q.posterior()).isEqualTo(Posterior.NTK);
            assertThat(q.kind()).isEqualTo(defaults.kind());
            assertThat(q.method()).isEqualTo(defaults.method());
            assertThat(q.times()).containsExactly(defaults.times());
            assertThat(q.diagReg()).isEqualTo(defaults.diagReg());
            assertThat(q.learningRate()).isEqualTo(defaults.learningRate());
            assertThat(q.loss()).isEqualTo(defaults.loss());
            assertThat(q.covariance()).isFalse();
            assertThat(q.initOutputs()).isFalse();
            try (PredictResult viaFactory = Predict.run(q.withKind(KernelKind.trace())
                         .withDiagReg(DiagReg.relative(1e-3)).withLearningRate(4).withTimes(5, Double.POSITIVE_INFINITY)
                         .withPosterior(Posterior.NTK).withCovariance(true));
                 PredictResult viaParams = Predict.run(request(p, Posterior.NTK, true, 5,
                         Double.POSITIVE_INFINITY))) {
                assertThat(viaFactory.predictions().shape()).containsExactly(2, M, O);
                assertClose(viaFactory.predictions(), viaParams.predictions(), 0, 1e-12);
                assertClose(viaFactory.covariance(), viaParams.covariance(), 0, 1e-12);
                assertThat(viaFactory.points().get(1).meanVariance()).isCloseTo(
                        viaParams.points().get(1).meanVariance(), org.assertj.core.data.Offset.offset(1e-12));
            }
        }
        assertOneLine(() -> PredictRequest.of(NET, null, tr, te), "predict: params: expected the network's "
                + "parameters for the empirical kernels, got null; for the analytic infinite-width kernels, which read "
                + "none, use PredictRequest.ofInfinite");
        assertOneLine(() -> PredictRequest.ofInfinite(NET, tr, te, null), "predict: posterior: expected nngp, ntk or "
                + "ntkgp for the infinite-width limit");
        assertOneLine(() -> q.withInfinite(false), "predict: params: expected the network's parameters");
        assertOneLine(() -> PredictRequest.ofInfinite(NET, null, te, Posterior.NNGP),
                "predict: train: expected a value, got null");
        assertOneLine(() -> PredictRequest.ofInfinite(Zoo.parse("transformer(out=3)"), tr, te, Posterior.NNGP),
                "--infinite: the analytic");
    }

    private static void assertOneLine(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String prefix) {
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(prefix)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
