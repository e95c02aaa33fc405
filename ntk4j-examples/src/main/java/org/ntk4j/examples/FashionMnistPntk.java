package org.ntk4j.examples;

import java.io.IOException;
import java.util.Locale;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GradientDescentMse;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The pNTK (sum-of-logits kernel, Mohamadi, Bae &amp; Sutherland 2023) of Fashion-MNIST images, and the test
 * accuracy of kernel regression with it: the prediction of an infinitely long gradient-descent run on the MSE
 * loss of the linearised network.
 *
 * <p>Run: {@code ntk4j-examples/run FashionMnistPntk [TRAIN] [TEST] [WIDTH]} (defaults 1000, 500, 256). The
 * images are the embedded subset of Fashion-MNIST that {@link DataSource} ships in its jar ({@code default:train},
 * {@code default:test}): nothing is downloaded.
 */
public final class FashionMnistPntk {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "FashionMnistPntk [TRAIN] [TEST] [WIDTH]";

    private FashionMnistPntk() {
    }

    /**
     * Computes the kernels, fits, prints the accuracy.
     *
     * @param args optional: training examples, test examples, hidden width
     * @throws Exception only on a bug: bad arguments end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, FashionMnistPntk::run);
    }

    static void run(ExampleArgs args) throws IOException {
        int nTrain = args.positive(0, 1000);
        int nTest = args.positive(1, 500);
        int width = args.positive(2, 256);

        // A model from the zoo, by the same spec string the CLI's --model takes. fcn flattens its input first.
        Model model = Zoo.parse("fcn(depth=2,width=" + width + ",out=10,act=relu)");

        // "default:train:N" = the first N of the embedded 2,000 training images, [N, 28, 28, 1], pixels in [0, 1].
        // Float32 is the fast choice for kernels this size; the seed only matters for synthetic: sources.
        try (Dataset train = DataSource.loadDataset(DataSource.DEFAULT_TRAIN + ":" + nTrain, DType.F32, 0);
             Dataset test = DataSource.loadDataset(DataSource.DEFAULT_TEST + ":" + nTest, DType.F32, 0);
             // InputLayout reshapes the examples to what the model takes ([N, 784] here would also do)
             Tensor xTrain = InputLayout.forModel(model, train.x());
             Tensor xTest = InputLayout.forModel(model, test.x());
             // Parameters: seeded, so the same seed gives bit-identical parameters (and kernels) on every run.
             Params params = model.init(42, train.exampleShape(), DType.F32)) {
            System.out.printf(Locale.ROOT, "model %s, %,d parameters%n", model.spec(), params.count());
            System.out.printf(Locale.ROOT, "train %d, test %d images of %s%n", train.size(), test.size(),
                    java.util.Arrays.toString(train.exampleShape()));

            // The pNTK: one cotangent per example instead of O = 10, so about ten times cheaper than the trace
            // kernel, and an N×N matrix. kernel(kind, x1, null) is the kernel of x1 with itself (exactly symmetric).
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params);
            KernelKind pntk = KernelKind.pntk();
            long start = System.nanoTime();
            try (Tensor kTrain = ntk.kernel(pntk, xTrain, null);          // [N, N]
                 Tensor kTestTrain = ntk.kernel(pntk, xTest, xTrain)) {   // [M, N]
                System.out.printf(Locale.ROOT, "pntk train-train %s, test-train %s in %.1f s%n",
                        java.util.Arrays.toString(kTrain.shape()), java.util.Arrays.toString(kTestTrain.shape()),
                        (System.nanoTime() - start) / 1e9);

                // Targets: one-hot labels centred as in neural-tangents' examples (1 − 0.1 on the class, −0.1 off).
                try (Tensor y = train.oneHot(DType.F64, 10)) {
                    for (int i = 0; i < y.size(); i++) {
                        y.setFlat(i, y.getFlat(i) - 0.1);
                    }
                    // An N×N kernel acts on the 10 outputs as K ⊗ I. diagReg 1e-4 is relative to trace(K)/N, as in
                    // neural-tangents; t = ∞ is the kernel regression solution (K + rI)⁻¹ y, by Cholesky.
                    try (GradientDescentMse gd = GradientDescentMse.fromTensor(kTrain, y, 1.0, DiagReg.relative(1e-4));
                         Tensor f = gd.predictTest(Double.POSITIVE_INFINITY, kTestTrain, null, null)) {
                        System.out.printf(Locale.ROOT, "test accuracy %.3f%n", accuracy(f, test.labels()));
                    }
                }
            }
        }
    }

    /** The fraction of rows of {@code f} [M, O] whose largest entry is at the label. */
    static double accuracy(Tensor f, int[] labels) {
        int o = f.dim(1);
        int right = 0;
        for (int m = 0; m < labels.length; m++) {
            int best = 0;
            for (int k = 1; k < o; k++) {
                if (f.get(m, k) > f.get(m, best)) {
                    best = k;
                }
            }
            right += best == labels[m] ? 1 : 0;
        }
        return (double) right / labels.length;
    }
}
