package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ntk4j.cpu.Blas;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.util.Statistics;

/**
 * Runs {@link DotGeneralBenchmark} through the JMH Runner API and prints a Markdown table of time per op,
 * GFLOP/s and the two acceptance ratios (dot_general / direct sgemm at 1024³, target ≥ 0.85; batched
 * dot_general / 64 direct sgemm calls, target ≥ 0.60), first from the four separate benchmarks, then from
 * the two interleaved ones, whose ratios hold up when other work shares the machine.
 *
 * <pre>
 * ./ntk4j bench gemm [--rounds R] [--out FILE [--overwrite]] [JMH options]   (GemmBench checks them first)
 * </pre>
 *
 * <p>{@code --rounds R} repeats the whole JMH run R times (default 1) and prints one table per round, so that
 * the spread caused by other load on the machine is visible; {@code --out FILE} also writes the report there
 * ({@link GemmBench} refuses an existing FILE without {@code --overwrite} before any run). Threads: see
 * {@link DotGeneralBenchmark} (separate rows: each side on all cores; paired rows: each on one core).
 * Every other argument goes to JMH as on its own command line ({@code -f 2 -wi 3 -i 5 -w 1s -r 1s}, a
 * benchmark regex, ...), overriding the defaults annotated on the benchmark (1 fork, 3 × 1 s warmup,
 * 5 × 1 s measurement). The mode is always average time in milliseconds, which the GFLOP/s need.
 */
public final class GemmReport {
    private static final double SQUARE_TARGET = 0.85;
    private static final double BATCHED_TARGET = 0.60;

    /** One benchmark method: what it computes and how many floating-point operations one call does. */
    private record Case(String method, String label, String shape, double flops) {
    }

    private static final List<Case> CASES = List.of(
            new Case("matmul1024DotGeneral", "ntk4j dot_general (allocates output)", "1024×1024 · 1024×1024",
                    DotGeneralBenchmark.SQUARE_FLOPS),
            new Case("matmul1024Sgemm", "direct cblas_sgemm (preallocated output)", "1024×1024 · 1024×1024",
                    DotGeneralBenchmark.SQUARE_FLOPS),
            new Case("batchedDotGeneral", "ntk4j batched dot_general (allocates output)",
                    "64 × (128×512 · 512×512)", DotGeneralBenchmark.BATCHED_FLOPS),
            new Case("batchedSgemm", "64 direct cblas_sgemm on offsets (preallocated output)",
                    "64 × (128×512 · 512×512)", DotGeneralBenchmark.BATCHED_FLOPS));

    private GemmReport() {
    }

    /**
     * Runs the JMH benchmarks and prints the table.
     *
     * @param args JMH options passed through (none needed)
     * @throws Exception when JMH fails
     */
    public static void main(String[] args) throws Exception {
        int rounds = 1;
        Path outFile = null;
        List<String> jmhArgs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(value(args, ++i, "--rounds"));
                case "--out" -> outFile = Path.of(value(args, ++i, "--out"));
                default -> jmhArgs.add(args[i]);
            }
        }
        if (rounds < 1) {
            throw new IllegalArgumentException("--rounds must be at least 1, got " + rounds);
        }
        CommandLineOptions cmd = new CommandLineOptions(jmhArgs.toArray(new String[0]));
        if (cmd.shouldHelp()) {
            System.out.println("Usage: GemmReport [--rounds R] [--out FILE] [JMH options]\nJMH options:");
            cmd.showHelp();
            return;
        }
        OptionsBuilder builder = new OptionsBuilder();
        builder.parent(cmd);
        if (cmd.getIncludes().isEmpty()) {
            builder.include(DotGeneralBenchmark.class.getName() + "\\.");
        }
        Options options = builder.mode(Mode.AverageTime).timeUnit(TimeUnit.MILLISECONDS).build();

        StringBuilder report = new StringBuilder();
        report.append(header(args));
        for (int round = 1; round <= rounds; round++) {
            String before = Machine.loadAverage();
            Collection<RunResult> results = new Runner(options).run();
            report.append(table(results, rounds > 1 ? "Round " + round + " of " + rounds : null));
            report.append("- load average (1/5/15 min) before: ").append(before).append(", after: ")
                    .append(Machine.loadAverage()).append('\n');
        }
        System.out.println();
        System.out.print(report);
        if (outFile != null) {
            org.ntk4j.io.AtomicFile.writeString(outFile, report.toString());
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static String header(String[] args) throws IOException {
        StringBuilder sb = new StringBuilder();
        sb.append("## DotGeneralBenchmark, float32\n\n");
        sb.append("- date: ").append(Machine.now())
                .append('\n');
        sb.append("- arguments: `").append(args.length == 0 ? "(defaults)" : String.join(" ", args)).append("`\n");
        sb.append("- CPU: ").append(Machine.cpuModel()).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores visible to the JVM\n");
        sb.append("- JVM: ").append(Machine.java()).append('\n');
        sb.append("- OpenBLAS: `").append(Blas.config().trim()).append("`; separate rows: each side on ")
                .append(Blas.threads()).append(" threads (ntk4j's GEMM split, OpenBLAS's own threads for the direct "
                        + "calls); paired rows: each side on one thread\n");
        return sb.toString();
    }

    /** Mean and median time per op in ms, and the spread over measurement iterations. */
    private record Timing(double meanMs, double errorMs, double medianMs, double minMs, double maxMs, long n) {
    }

    /** Totals of a paired benchmark: nanoseconds in each competitor over all its measured calls. */
    private record Paired(double oursNs, double directNs, double pairs) {
    }

    /** One paired benchmark: the separate benchmarks it interleaves and the target its ratio is held to. */
    private record Pair(String method, String ours, String direct, String shape, double flops, double target) {
    }

    private static final List<Pair> PAIRS = List.of(
            new Pair("pairedMatmul1024", "matmul1024DotGeneral", "matmul1024Sgemm", "1024×1024 · 1024×1024",
                    DotGeneralBenchmark.SQUARE_FLOPS, SQUARE_TARGET),
            new Pair("pairedBatched", "batchedDotGeneral", "batchedSgemm", "64 × (128×512 · 512×512)",
                    DotGeneralBenchmark.BATCHED_FLOPS, BATCHED_TARGET));

    private static String table(Collection<RunResult> results, String title) {
        Map<String, Timing> byMethod = new LinkedHashMap<>();
        Map<String, Paired> paired = new LinkedHashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            Result<?> oursNs = r.getSecondaryResults().get("oursNs");
            Result<?> directNs = r.getSecondaryResults().get("directNs");
            Result<?> pairs = r.getSecondaryResults().get("pairs");
            if (oursNs != null && directNs != null && pairs != null) {
                paired.put(method, new Paired(oursNs.getStatistics().getSum(), directNs.getStatistics().getSum(),
                        pairs.getStatistics().getSum()));
                continue;
            }
            Result<?> primary = r.getPrimaryResult();
            if (!primary.getScoreUnit().equals("ms/op")) {
                throw new IllegalStateException("expected ms/op, got " + primary.getScoreUnit());
            }
            Statistics st = primary.getStatistics();
            double err = st.getN() > 2 ? primary.getScoreError() : Double.NaN;
            byMethod.put(method, new Timing(st.getMean(), err, st.getPercentile(50), st.getMin(), st.getMax(),
                    st.getN()));
        }
        StringBuilder sb = new StringBuilder("\n");
        if (title != null) {
            sb.append("### ").append(title).append("\n\n");
        }
        sb.append("| benchmark | what | shape | ms/op (mean ± 99.9% CI) | GFLOP/s (mean) | GFLOP/s (median) "
                + "| GFLOP/s (slowest – fastest iteration) |\n");
        sb.append("|---|---|---|---:|---:|---:|---:|\n");
        for (Case c : CASES) {
            Timing t = byMethod.get(c.method());
            if (t == null) {
                continue;
            }
            sb.append(String.format(Locale.ROOT, "| `%s` | %s | %s | %.2f ± %s | %.1f | %.1f | %.1f – %.1f |%n",
                    c.method(), c.label(), c.shape(), t.meanMs(),
                    Double.isNaN(t.errorMs()) ? "n/a" : String.format(Locale.ROOT, "%.2f", t.errorMs()),
                    gflops(c.flops(), t.meanMs()), gflops(c.flops(), t.medianMs()), gflops(c.flops(), t.maxMs()),
                    gflops(c.flops(), t.minMs())));
        }
        sb.append('\n');
        sb.append(ratio(byMethod, "matmul1024DotGeneral", "matmul1024Sgemm", "ours / direct at 1024³",
                SQUARE_TARGET));
        sb.append(ratio(byMethod, "batchedDotGeneral", "batchedSgemm",
                "batched dot_general / direct sgemm rate", BATCHED_TARGET));
        if (!paired.isEmpty()) {
            sb.append("\nInterleaved pairs (one call of each per invocation, alternating which goes first; both see "
                    + "the same load):\n\n");
            sb.append("| benchmark | shape | calls of each | ours ms/op | direct ms/op | ours GFLOP/s "
                    + "| direct GFLOP/s | ours / direct | target |\n");
            sb.append("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
            for (Pair p : PAIRS) {
                Paired t = paired.get(p.method());
                if (t == null || t.pairs() == 0) {
                    continue;
                }
                double oursMs = t.oursNs() / t.pairs() / 1e6;
                double directMs = t.directNs() / t.pairs() / 1e6;
                double r = directMs / oursMs;
                sb.append(String.format(Locale.ROOT,
                        "| `%s` | %s | %.0f | %.2f | %.2f | %.1f | %.1f | **%.2f** | ≥ %.2f: %s |%n", p.method(),
                        p.shape(), t.pairs(), oursMs, directMs, gflops(p.flops(), oursMs),
                        gflops(p.flops(), directMs), r, p.target(), r >= p.target() ? "met" : "NOT met"));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static double gflops(double flops, double ms) {
        return flops / (ms * 1e6);
    }

    /**
     * Rate ratio ours/direct (= direct time / our time) of the means, which the target is judged on, and of
     * the medians and the fastest iterations, which other load on the machine disturbs less.
     */
    private static String ratio(Map<String, Timing> byMethod, String ours, String direct, String label,
                                double target) {
        Timing o = byMethod.get(ours);
        Timing d = byMethod.get(direct);
        if (o == null || d == null) {
            return "";
        }
        double r = d.meanMs() / o.meanMs();
        return String.format(Locale.ROOT,
                "- %s: **%.2f** of the means (medians %.2f, fastest iterations %.2f); target ≥ %.2f: %s%n",
                label, r, d.medianMs() / o.medianMs(), d.minMs() / o.minMs(), target,
                r >= target ? "**met**" : "**NOT met**");
    }
}
