package org.ntk4j.examples;

import java.util.Locale;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The three exact algorithms of Novak, Sohl-Dickstein &amp; Schoenholz (2022) on one convolutional network: what
 * the cost model predicts for each ({@code explain}, as {@code ntk4j explain} prints it), which one AUTO picks,
 * and that all three give the same kernel — to 1e-10 in float64.
 *
 * <p>Run: {@code ntk4j-examples/run ThreeMethods [N] [CHANNELS]} (defaults 16, 16).
 */
public final class ThreeMethods {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "ThreeMethods [N] [CHANNELS]";

    private ThreeMethods() {
    }

    /**
     * Prints the cost model, then the kernel by each method and its distance to Jacobian contraction's.
     *
     * @param args optional: number of examples, channels of the convolutions
     * @throws Exception only on a bug: bad arguments end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, ThreeMethods::run);
    }

    static void run(ExampleArgs args) {
        int n = args.positive(0, 16);
        int channels = args.positive(1, 16);
        int[] image = {8, 8, 3};

        Model model = Zoo.parse("cnn(depth=2,channels=" + channels + ",out=10,act=relu)");
        // float64 throughout: the methods then agree to ~1e-14, and the check below can be tight.
        try (Params params = model.init(7, image, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 1, n, image[0], image[1], image[2])) {
            // The full kernel [N, N, O, O]: traceAxes() with no axes traces over nothing.
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params).traceAxes();

            // The cost model: exact FLOP and byte counts of each method for these shapes (n2 = 0: x2 = x1), and
            // AUTO's choice within the memory budget. The same table ntk4j explain prints.
            System.out.print(ntk.costModel(n, 0, image, DType.F64).explain(ntk.memoryBudget()));
            System.out.println("AUTO runs " + ntk.resolveMethod(n, 0, image, DType.F64).shortName());

            // Each method is one configuration call away; the instances are immutable.
            try (Tensor jc = time(ntk.method(Method.JACOBIAN_CONTRACTION), x, "jc");
                 Tensor vp = time(ntk.method(Method.NTK_VECTOR_PRODUCTS), x, "vp");
                 Tensor sd = time(ntk.method(Method.STRUCTURED_DERIVATIVES), x, "sd")) {
                System.out.printf(Locale.ROOT, "max relative difference vp vs jc %.1e, sd vs jc %.1e%n",
                        maxRelativeDifference(vp, jc), maxRelativeDifference(sd, jc));
            }
        }
    }

    private static Tensor time(EmpiricalNtk ntk, Tensor x, String name) {
        long start = System.nanoTime();
        Tensor k = ntk.ntk(x, null);
        System.out.printf(Locale.ROOT, "%s: kernel %s in %.3f s%n", name, java.util.Arrays.toString(k.shape()),
                (System.nanoTime() - start) / 1e9);
        return k;
    }

    /** max |a − b| / max |b|. */
    static double maxRelativeDifference(Tensor a, Tensor b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.size(); i++) {
            diff = Math.max(diff, Math.abs(a.getFlat(i) - b.getFlat(i)));
            scale = Math.max(scale, Math.abs(b.getFlat(i)));
        }
        return diff / scale;
    }
}
