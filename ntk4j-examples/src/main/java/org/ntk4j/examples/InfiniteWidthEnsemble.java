package org.ntk4j.examples;

import java.io.IOException;
import java.util.Locale;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GpInference;
import org.ntk4j.predict.GpInference.Gaussian;
import org.ntk4j.predict.GpInference.Kernels;
import org.ntk4j.predict.GpInference.Posterior;
import org.ntk4j.predict.GradientDescentMseEnsemble;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * What a neural-tangents user does first: the infinite-width NNGP and NTK of a network ({@code stax}'s
 * {@code kernel_fn}), then {@code predict.gradient_descent_mse_ensemble} — the mean and variance of the test
 * predictions of infinitely many infinitely wide networks trained by gradient descent on the MSE loss for time t
 * — for a few t and t = ∞, against the empirical NTK of one finite network of the same architecture at its
 * initialisation.
 *
 * <p>Run: {@code ntk4j-examples/run InfiniteWidthEnsemble [TRAIN] [TEST] [WIDTH]} (defaults 300, 200, 512) on the
 * embedded Fashion-MNIST subset ({@code default:train}, {@code default:test}): nothing is downloaded.
 */
public final class InfiniteWidthEnsemble {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "InfiniteWidthEnsemble [TRAIN] [TEST] [WIDTH]";

    /**
     * The training times of the table. Time enters as s = η·t/|y|, |y| = N·O (neural-tangents' scaling): the
     * component of the targets along an eigenvector of the NTK with eigenvalue λ is fitted once λ·s ≫ 1, the large
     * ones first; ∞ is the posterior, every component fitted (up to the regulariser).
     */
    static final double[] TIMES = {0, 100, 1_000, 10_000, 100_000, Double.POSITIVE_INFINITY};

    private InfiniteWidthEnsemble() {
    }

    /**
     * Computes the kernels, the ensembles at each time, prints the table.
     *
     * @param args optional: training examples, test examples, width of the finite network
     * @throws Exception only on a bug: bad arguments end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, InfiniteWidthEnsemble::run);
    }

    static void run(ExampleArgs args) throws IOException {
        int nTrain = args.positive(0, 300);
        int nTest = args.positive(1, 200);
        int width = args.positive(2, 512);

        // One spec for both: the finite network (Zoo) and its analytic limit (InfiniteLimit), which reads the same
        // depth, activation, parameterisation (ntk), σ_w and σ_b; its width does not enter the NTK-parameterised
        // limit.
        String spec = "fcn(depth=2,width=" + width + ",out=10,act=relu)";
        Model model = Zoo.parse(spec);
        InfiniteLimit limit = InfiniteLimit.of(spec);

        // float64 throughout: the limit's kernels are cheap, and the finite kernel of a few hundred images too
        try (Dataset train = DataSource.loadDataset(DataSource.DEFAULT_TRAIN + ":" + nTrain, DType.F64, 0);
             Dataset test = DataSource.loadDataset(DataSource.DEFAULT_TEST + ":" + nTest, DType.F64, 0);
             Tensor xTrain = InputLayout.forModel(model, train.x());
             Tensor xTest = InputLayout.forModel(model, test.x());
             Params params = model.init(42, train.exampleShape(), DType.F64);
             // Targets: one-hot labels centred as in neural-tangents' examples (1 − 0.1 on the class, −0.1 off).
             Tensor y = centredOneHot(train)) {
            System.out.printf(Locale.ROOT, "model %s (%,d parameters) and its infinite-width limit%n", model.spec(),
                    params.count());
            System.out.printf(Locale.ROOT, "train %d, test %d images; learning rate 1, diag_reg 1e-4%n",
                    train.size(), test.size());

            long start = System.nanoTime();
            // kernel_fn(x1, x2, ('nngp', 'ntk')): the NNGP K and the NTK Θ of one logit (the limit is K ⊗ I and
            // Θ ⊗ I on the 10 logits) as N1×N2 matrices, both from one pass; x2 = null is x1 with itself (exactly
            // symmetric). Kernels(nngp, ntk) is neural-tangents' Kernel; closing it closes both tensors.
            try (Kernels dd = limit.kernels(xTrain, null, DType.F64);
                 Kernels td = limit.kernels(xTest, xTrain, DType.F64);
                 // the covariance at initialisation is the NNGP's K_tt, for both ensembles (its NTK goes unread);
                 // limit.diagonalKernels(xTest, ...) with predictVariances gives the variances without [M, M]
                 Kernels tt = limit.kernels(xTest, null, DType.F64)) {
                double limitSeconds = (System.nanoTime() - start) / 1e9;

                // The finite network: its empirical NTK at the initialisation above (the trace over the logits, so
                // that it estimates the same Θ).
                start = System.nanoTime();
                EmpiricalNtk entk = EmpiricalNtk.of(model, params);
                try (Tensor eDD = entk.kernel(KernelKind.trace(), xTrain, null);
                     Tensor eTD = entk.kernel(KernelKind.trace(), xTest, xTrain)) {
                    System.out.printf(Locale.ROOT, "kernels: limit NNGP and NTK in %.1f s, empirical NTK at width %d "
                            + "in %.1f s%n", limitSeconds, width, (System.nanoTime() - start) / 1e9);

                    // gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, learning_rate=1, diag_reg=1e-4);
                    // the finite network's is the same with its empirical NTK alone (its mean: the linearised
                    // network trained from a zero output; no variance, one network being no ensemble).
                    try (GradientDescentMseEnsemble infinite = GradientDescentMseEnsemble.of(dd, y, 1.0,
                            DiagReg.relative(1e-4));
                         GradientDescentMseEnsemble finite = GradientDescentMseEnsemble.of(Kernels.ofNtk(eDD), y,
                                 1.0, DiagReg.relative(1e-4))) {
                        table(infinite, finite, td, tt, Kernels.ofNtk(eTD), test.labels(), width);
                        // At t = ∞ the ensembles are gp_inference's posteriors (neural-tangents' t=None), solved
                        // by a Cholesky factorisation; a finite t goes through the NTK's eigendecomposition, whose
                        // e^(−λs) has vanished for every eigenvalue by t = 1e12 (λ ≥ the regulariser r).
                        try (GpInference.Predictor gp = GpInference.gpInference(dd, y, DiagReg.relative(1e-4));
                             Gaussian post = gp.predict(Posterior.NTK, td);
                             Gaussian atInf = infinite.predict(Posterior.NTK, Double.POSITIVE_INFINITY, td);
                             Gaussian late = infinite.predict(Posterior.NTK, 1e12, td)) {
                            System.out.printf(Locale.ROOT, "ntk ensemble mean at t = inf vs gp_inference's ntk "
                                    + "posterior mean: max |difference| %.1e%n", maxAbsDifference(atInf.mean(),
                                    post.mean()));
                            System.out.printf(Locale.ROOT, "ntk ensemble mean at t = 1e12 vs t = inf: max "
                                    + "|difference| %.1e%n", maxAbsDifference(late.mean(), atInf.mean()));
                        }
                    }
                }
            }
        }
    }

    /** One line per time: each ensemble's test accuracy and mean predictive variance, the finite network's accuracy. */
    private static void table(GradientDescentMseEnsemble infinite, GradientDescentMseEnsemble finite, Kernels td,
                              Kernels tt, Kernels finiteTd, int[] labels, int width) {
        System.out.printf(Locale.ROOT, "%-8s  %-19s  %-19s  %s%n", "", "infinite nngp", "infinite ntk",
                "width " + width + " ntk");
        System.out.printf(Locale.ROOT, "%-8s  %-8s  %-9s  %-8s  %-9s  %s%n", "t", "accuracy", "variance", "accuracy",
                "variance", "accuracy");
        for (double t : TIMES) {
            // predict(get, t, testTrain, testTest): the mean [M, O] and covariance [M, M] (compute_cov=True)
            try (Gaussian nngp = infinite.predict(Posterior.NNGP, t, td, tt);
                 Gaussian ntk = infinite.predict(Posterior.NTK, t, td, tt);
                 Gaussian one = finite.predict(Posterior.NTK, t, finiteTd)) {
                // at t = 0 every mean is 0: no prediction yet, only the prior variance
                System.out.printf(Locale.ROOT, "%-8s  %-8s  %-9.4f  %-8s  %-9.4f  %s%n", time(t),
                        accuracy(t, nngp.mean(), labels), nngp.meanVariance(), accuracy(t, ntk.mean(), labels),
                        ntk.meanVariance(), accuracy(t, one.mean(), labels));
            }
        }
    }

    private static String time(double t) {
        return t == Double.POSITIVE_INFINITY ? "inf" : String.format(Locale.ROOT, "%.0f", t);
    }

    private static String accuracy(double t, Tensor mean, int[] labels) {
        return t == 0 ? "-" : String.format(Locale.ROOT, "%.3f", FashionMnistPntk.accuracy(mean, labels));
    }

    /** The one-hot labels [N, 10] less 0.1: zero-mean targets, as neural-tangents' examples use. */
    private static Tensor centredOneHot(Dataset d) {
        Tensor y = d.oneHot(DType.F64, 10);
        for (int i = 0; i < y.size(); i++) {
            y.setFlat(i, y.getFlat(i) - 0.1);
        }
        return y;
    }

    private static double maxAbsDifference(Tensor a, Tensor b) {
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.getFlat(i) - b.getFlat(i)));
        }
        return m;
    }
}
