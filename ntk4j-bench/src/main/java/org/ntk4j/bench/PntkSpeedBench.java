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
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * The sum-of-logits pNTK against the full kernel by the same method, side by side in one run:
 * {@code ./ntk4j bench pntk [SPEC] [N] [INPUT] [REPS]}.
 * Prints a Markdown table of median seconds (after at least 3 warm-up calls and 2 s) and the speed-up
 * full / pntk per method; a method whose values exceed one tensor (2^31-1 bytes) is reported as not run.
 */
public final class PntkSpeedBench {
    private PntkSpeedBench() {
    }

    /** The command line: four optional positional arguments, checked (the model built) before the run. */
    @Command(name = "ntk4j bench pntk", sortOptions = false,
            description = {"The sum-of-logits pNTK [N, N] against the full kernel [N, N, O, O] by each method (SD, "
                + "JC, NTK-VP), median seconds after a warm-up of at least 3 calls and 2 s, and the speed-up; "
                + "printed, no file written.", ""})
    static final class Options implements BenchCli.Bench {
        @Parameters(index = "0", arity = "0..1", paramLabel = "SPEC", description = "the model, a zoo spec whose "
                + "inputs are vectors (default ${DEFAULT-VALUE})", defaultValue = "fcn(depth=2,width=1024,out=10)")
        String spec;
        @Parameters(index = "1", arity = "0..1", paramLabel = "N", description = "examples (default "
                + "${DEFAULT-VALUE})", defaultValue = "64")
        int n;
        @Parameters(index = "2", arity = "0..1", paramLabel = "INPUT", description = "features per example (default "
                + "${DEFAULT-VALUE})", defaultValue = "784")
        int input;
        @Parameters(index = "3", arity = "0..1", paramLabel = "REPS", description = "timed calls per kernel (default "
                + "${DEFAULT-VALUE})", defaultValue = "3")
        int reps;
        @Mixin
        BenchCli.Help help = new BenchCli.Help();
        Model model;
        Params params;

        @Override
        public void check(CommandLine.ParseResult given) {
            BenchCli.positive("N", n);
            BenchCli.positive("INPUT", input);
            BenchCli.positive("REPS", reps);
            model = Zoo.parse(spec);
            try {
                params = model.init(0, new int[] {input}, DType.F32);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("SPEC " + spec + " on inputs of INPUT = " + input + " features: "
                        + e.getMessage(), e);
            }
        }

        @Override
        public int run(String[] args) {
            PntkSpeedBench.run(this);
            return 0;
        }
    }

    /**
     * Runs the comparison and prints its table.
     *
     * @param args {@code [spec] [n] [input] [repetitions]} ({@code --help})
     */
    public static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private static void run(Options o) {
        Tensor x = Tensor.randomNormal(DType.F32, 1, o.n, o.input);
        System.out.printf(Locale.ROOT, "%s, N = %d, inputs %d, float32, median of %d after warm-up%n%n", o.spec, o.n,
                o.input, o.reps);
        System.out.println("| method | full kernel [N,N,O,O] (s) | pntk [N,N] (s) | speed-up |");
        System.out.println("|---|---|---|---|");
        for (Method method : new Method[] {Method.STRUCTURED_DERIVATIVES, Method.JACOBIAN_CONTRACTION,
            Method.NTK_VECTOR_PRODUCTS}) {
            EmpiricalNtk ntk = EmpiricalNtk.of(o.model, o.params).method(method);
            double full;
            double pntk;
            try {
                full = median(ntk, KernelKind.full(), x, o.reps);
                pntk = median(ntk, KernelKind.parse("pntk", 0), x, o.reps);
            } catch (IllegalArgumentException e) {
                System.out.printf(Locale.ROOT, "| %s | not run: %s | | |%n", method.shortName(), e.getMessage());
                continue;
            }
            System.out.println(row(method, full, pntk));
        }
    }

    /** A row of the table: seconds with 4 significant digits (a kernel of microseconds is not "0.000"). */
    static String row(Method method, double full, double pntk) {
        return String.format(Locale.ROOT, "| %s | %.4g | %.4g | %.1f× |", method.shortName(), full, pntk, full / pntk);
    }

    private static double median(EmpiricalNtk ntk, KernelKind kind, Tensor x, int reps) {
        long warm = System.nanoTime();
        for (int w = 0; w < 3 || System.nanoTime() - warm < 2_000_000_000L; w++) {
            ntk.kernel(kind, x, null).close();
        }
        return Timing.median(Timing.repeat(0, reps, () -> ntk.kernel(kind, x, null).close()));
    }
}
