package org.ntk4j.bench;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code ./ntk4j bench NAME [options]}: the launcher runs this class on ntk4j-bench's class path (the CLI module
 * does not depend on the bench module, nor on DJL). NAME picks the benchmark program; its options follow, checked in
 * full before it starts ({@link BenchCli}: one line and exit code 2 for bad input, {@code --help} anywhere).
 */
public final class BenchMain {
    /** The benchmarks by name, each a fresh set of options to parse. */
    private static final Map<String, Supplier<BenchCli.Bench>> BENCHES = new LinkedHashMap<>();

    static {
        BENCHES.put("paper-fcn", PaperFcnBench.Options::new);
        BENCHES.put("methods", NtkMethodsBench.Options::new);
        BENCHES.put("pntk", PntkSpeedBench.Options::new);
        BENCHES.put("gemm", GemmBench.Options::new);
        BENCHES.put("numpy", HandWrittenBench.Options::new);
        BENCHES.put("train-mlp", TrainMlpBench.Options::new);
        BENCHES.put("resnet", ResNetBench.Options::new);
        BENCHES.put("plans", PlansBench.Options::new);
        BENCHES.put("conv", ConvBench.Options::new);
    }

    private BenchMain() {
    }

    static String usage() {
        return String.join("\n",
                "usage: ntk4j bench NAME [options]   (NAME --help for its options)",
                "  paper-fcn   the paper's Figure 1 FCN over N, O and W, fitted exponents, limit; --with-peers adds",
                "              PyTorch (functorch), DJL and hand-written NumPy (fcn) on the FCN example and a cnn;",
                "              --quick: under 5 minutes",
                "  methods     JC vs NTK-VP vs SD on the FCN example and a width sweep (NtkMethodsBench)",
                "  pntk        pNTK against the full kernel per method (PntkSpeedBench): [SPEC] [N] [INPUT] [REPS]",
                "  gemm        dot_general against direct cblas_sgemm, JMH (GemmReport): [--rounds R] [--out FILE]",
                "              [JMH options]",
                "  numpy       ntk4j SD against a hand-written NumPy per-layer FCN kernel and the SGEMM rate, same run",
                "              (HandWrittenBench): [--widths 2048,512] [--warmup 30] [--reps 10] [--rounds 2]",
                "              [--blas-threads T]",
                "  train-mlp   training throughput of fcn(depth=2,width=512) against PyTorch, interleaved epochs",
                "              (TrainMlpBench): [--epochs E] [--batch B] [--threads T] [--n N] [--data SOURCE]",
                "              [--out FILE: append the run to it]",
                "  resnet      the empirical_ntk_resnet notebook's settings on torchvision's ResNet-18/50, every",
                "              method that fits plus AUTO, beside PyTorch functorch JC and NTK-VP (ResNetBench)",
                "  plans       this build against another side by side (PlansBench): --baseline CLASSPATH",
                "              [--rounds R] [--out FILE]; ntk4j-bench/run-plans.sh builds the previous commit's",
                "  conv        conv_input_grad tap by tap against the old col2im(dy . W^T), cnn and ResNet-18 shapes",
                "              (ConvBench): [--reps R]",
                "Reports go to the repository's ntk4j-bench/ (--out DIR elsewhere); an existing file is refused",
                "unless --overwrite. Every option is checked before the run: bad input is one line, exit code 2.");
    }

    /**
     * Runs the benchmark NAME (the first argument) with the arguments that follow, and exits with its code.
     *
     * @param args NAME then the benchmark's own options
     */
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the benchmark NAME in this JVM.
     *
     * @param args NAME then the benchmark's own options
     * @param out where help goes
     * @param err where the one-line errors (and the list of benchmarks, when NAME is missing) go
     * @return the exit code: 0; 2 for a missing or unknown NAME and bad options; 1 when the work failed
     */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        if (args.length == 0) {
            err.println(usage());
            err.flush();
            return 2;
        }
        if (args[0].equals("--help") || args[0].equals("-h")) {
            out.println(usage());
            out.flush();
            return 0;
        }
        Supplier<BenchCli.Bench> bench = BENCHES.get(args[0]);
        if (bench == null) {
            err.println("ntk4j: unknown benchmark '" + args[0] + "'; benchmarks are "
                    + String.join(", ", BENCHES.keySet()) + " (ntk4j bench --help)");
            err.flush();
            return 2;
        }
        return BenchCli.execute(bench.get(), Arrays.copyOfRange(args, 1, args.length), out, err);
    }

    /** The benchmarks' names, in the order of {@link #usage()}. */
    static Iterable<String> names() {
        return BENCHES.keySet();
    }
}
