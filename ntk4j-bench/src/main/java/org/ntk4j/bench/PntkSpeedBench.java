package org.ntk4j.bench;

import java.util.Locale;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The sum-of-logits pNTK against the full kernel by the same method, side by side in one run:
 * {@code java -cp ... org.ntk4j.bench.PntkSpeedBench [spec] [n] [input] [repetitions]}.
 * Prints a Markdown table of median seconds (after at least 3 warm-up calls and 2 s) and the speed-up
 * full / pntk per method; a method whose values exceed one tensor (2^31-1 bytes) is reported as not run.
 */
public final class PntkSpeedBench {
    private PntkSpeedBench() {
    }

    /**
     * Runs the comparison and prints its table.
     *
     * @param args {@code [spec] [n] [input] [repetitions]}
     */
    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "fcn(depth=2,width=1024,out=10)";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int input = args.length > 2 ? Integer.parseInt(args[2]) : 784;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Model m = Zoo.parse(spec);
        int[] in = {input};
        Params p = m.init(0, in, DType.F32);
        Tensor x = Tensor.randomNormal(DType.F32, 1, n, input);
        System.out.printf(Locale.ROOT, "%s, N = %d, inputs %d, float32, median of %d after warm-up%n%n", spec, n,
                input, reps);
        System.out.println("| method | full kernel [N,N,O,O] (s) | pntk [N,N] (s) | speed-up |");
        System.out.println("|---|---|---|---|");
        for (Method method : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
            Method.NTK_VECTOR_PRODUCTS}) {
            EmpiricalNtk ntk = EmpiricalNtk.of(m, p).method(method);
            double full;
            double pntk;
            try {
                full = median(ntk, KernelKind.full(), x, reps);
                pntk = median(ntk, KernelKind.parse("pntk", 0), x, reps);
            } catch (IllegalArgumentException e) {
                System.out.printf(Locale.ROOT, "| %s | not run: %s | | |%n", method.shortName(), e.getMessage());
                continue;
            }
            System.out.printf(Locale.ROOT, "| %s | %.3f | %.3f | %.1f× |%n", method.shortName(), full, pntk,
                    full / pntk);
        }
    }

    private static double median(EmpiricalNtk ntk, KernelKind kind, Tensor x, int reps) {
        long warm = System.nanoTime();
        for (int w = 0; w < 3 || System.nanoTime() - warm < 2_000_000_000L; w++) {
            ntk.kernel(kind, x, null).close();
        }
        return Timing.median(Timing.repeat(0, reps, () -> ntk.kernel(kind, x, null).close()));
    }
}
