package org.ntk4j.bench;

import java.util.Arrays;

/**
 * {@code ./ntk4j bench NAME [options]}: the launcher runs this class on ntk4j-bench's class path (the CLI module
 * does not depend on the bench module, nor on DJL). NAME picks the benchmark program; its options follow.
 */
public final class BenchMain {
    private BenchMain() {
    }

    static String usage() {
        return String.join("\n",
                "usage: ntk4j bench NAME [options]   (NAME --help for its options)",
                "  paper-fcn   the paper's Figure 1 FCN over N, O and W, fitted exponents, limit; --with-peers adds",
                "              PyTorch (functorch), DJL and hand-written NumPy (fcn) on the FCN example and a cnn;",
                "              --quick: under 5 minutes",
                "  methods     JC vs NTK-VP vs SD on the FCN example and a width sweep (NtkMethodsBench)",
                "  pntk        pNTK against the full kernel per method (PntkSpeedBench): [spec] [n] [input] [reps]",
                "  gemm        dot_general against direct cblas_sgemm, JMH (GemmReport)",
                "  numpy       ntk4j SD against a hand-written NumPy per-layer FCN kernel and the SGEMM rate, same run",
                "              (HandWrittenBench): [--widths 2048,512] [--warmup 30] [--reps 10] [--rounds 2]",
                "              [--blas-threads T]",
                "  train-mlp   training throughput of fcn(depth=2,width=512) against PyTorch, interleaved epochs",
                "              (TrainMlpBench): [--epochs E] [--batch B] [--threads T] [--n N] [--data SOURCE]",
                "  resnet      the empirical_ntk_resnet notebook's settings on torchvision's ResNet-18/50, every method",
                "              that fits plus AUTO, beside PyTorch functorch JC and NTK-VP (ResNetBench; --help)",
                "  plans       this build against another side by side (PlansBench): --baseline CLASSPATH",
                "              [--rounds R] [--out FILE]; ntk4j-bench/run-plans.sh builds the previous commit's",
                "  conv        conv_input_grad tap by tap against the old col2im(dy . W^T), cnn and ResNet-18 shapes",
                "              (ConvBench): [--reps R]");
    }

    /**
     * Runs the benchmark NAME (the first argument) with the arguments that follow.
     *
     * @param args NAME then the benchmark's own options
     * @throws Exception whatever the benchmark program throws
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.println(usage());
            System.exit(args.length == 0 ? 2 : 0);
            return;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "paper-fcn" -> PaperFcnBench.main(rest);
            case "methods" -> NtkMethodsBench.main(rest);
            case "pntk" -> PntkSpeedBench.main(rest);
            case "gemm" -> GemmReport.main(rest);
            case "numpy" -> HandWrittenBench.main(rest);
            case "train-mlp" -> TrainMlpBench.main(rest);
            case "resnet" -> ResNetBench.main(rest);
            case "plans" -> PlansBench.main(rest);
            case "conv" -> ConvBench.main(rest);
            default -> {
                System.err.println("ntk4j: unknown benchmark '" + args[0] + "'; benchmarks are paper-fcn, methods, "
                        + "pntk, gemm, numpy, train-mlp, resnet, plans, conv");
                System.exit(2);
            }
        }
    }
}
