package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.Tensor;

/**
 * --memory on the commands that compute kernels besides kernel and explain (spectrum, approx, study, convergence;
 * since 2026-12-07): a budget too small is refused before any work in one line naming the least budget (the
 * largest least over the command's kernels and widths), that least given back runs, and the figures (float64) equal
 * those under the default budget within 1e-12 (the bounded run's chunks change the round-off only). And the NNGP
 * (kernel --nngp, predict --posterior nngp) is held to the budget by its own cost, not refused when no NTK method
 * fits it.
 */
class MemoryBudgetCommandsTest {
    @TempDir
    Path dir;

    /**
     * Runs {@code args}, which a budget too small refuses: asserts the refusal is one line of the memory budget,
     * without kernel's advice of tiles (--out), and returns the least budget it names, as --memory takes it.
     */
    private static String leastBudget(String... args) {
        String[] r = run(2, args);
        String err = r[1];
        assertThat(err).startsWith("ntk4j: memory budget: ").endsWith("\n");
        assertThat(err.substring(0, err.length() - 1)).doesNotContain("\n").doesNotContain("--out");
        // refused before any work: nothing measured, no table row printed
        assertThat(r[0]).doesNotContain("| 8 |").doesNotContain("| 16 |").doesNotContain("computed the");
        Matcher m = Pattern.compile("(?:raise --memory to at least|the smallest needs) ([0-9.]+) (KiB|MiB)\\b")
                .matcher(err);
        assertThat(m.find()).as(err).isTrue();
        return m.group(1) + (m.group(2).equals("KiB") ? "k" : "m");
    }

    private static String[] with(String[] args, String... more) {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    /** The report's numbers whose keys contain one of {@code parts}. */
    private static Map<String, Double> figures(Path report, String... parts) throws Exception {
        JsonReport json = JsonReport.read(report);
        Map<String, Double> m = new TreeMap<>();
        for (String k : json.keys()) {
            for (String part : parts) {
                if (k.contains(part) && json.get(k) instanceof Number n) {
                    m.put(k, n.doubleValue());
                }
            }
        }
        return m;
    }

    /** Equal keys, each value within 1e-12 of the other's magnitude (at least 1). */
    private static void assertSameFigures(Map<String, Double> bounded, Map<String, Double> whole) {
        assertThat(whole).isNotEmpty();
        assertThat(bounded.keySet()).isEqualTo(whole.keySet());
        whole.forEach((k, v) -> assertThat(bounded.get(k)).as(k)
                .isCloseTo(v, org.assertj.core.data.Offset.offset(1e-12 * Math.max(1, Math.abs(v)))));
    }

    /**
     * --memory bounds the storage that closed tensors keep for reuse too, together with the live tensors, while the
     * command runs (since 2026-12-07, night; before, the pool filled what the off-heap limit left beside the run).
     * Blocks pooled before the command (12 MiB here, derived from their sizes) are freed down to what fits beside
     * the live tensors within the 4 MiB budget, and the run keeps no more. The bound is the process's: once the
     * command returns, the one in force before it (here 1 TiB, as a program running commands in-process might
     * set) is restored, so that the budget of one command does not bound the pool of what the JVM runs next (it
     * stayed at 4 MiB for every later command, test and Java API call).
     */
    @Test
    void memoryAlsoBoundsTheStorageKeptForReuseWhileTheCommandRuns() {
        Tensor.releasePooledStorage();
        long before = 1L << 40;
        try {
            Tensor.boundPooledStorage(before);
            long pooled = 0;
            for (int i = 0; i < 12; i++) { // distinct sizes, each at least the pool's 1 MiB
                int elements = (1 << 18) + i;
                Tensor.empty(org.ntk4j.tensor.DType.F32, elements).close();
                pooled += 4L * elements;
            }
            assertThat(Tensor.pooledBytes()).isEqualTo(pooled);
            run(0, "kernel", "--model", "fcn(depth=1,width=64,out=10)", "--data", "synthetic:100,32", "--kind",
                    "trace", "--memory", "4m", "--quiet");
            long budget = 4L << 20;
            assertThat(Tensor.pooledBytes()).isLessThanOrEqualTo(Math.max(0, budget - Tensor.liveBytes()))
                    .isLessThan(pooled);
            assertThat(Tensor.pooledStorageBound()).as("the bound before the command, restored").isEqualTo(before);
            // the same for a command with MemoryOption's --memory
            run(0, "spectrum", "--model", "fcn(depth=1,width=16,out=2)", "--data", "synthetic:8,5", "--memory", "4m");
            assertThat(Tensor.pooledStorageBound()).isEqualTo(before);
        } finally {
            Tensor.boundPooledStorage(Long.MAX_VALUE);
            Tensor.releasePooledStorage();
        }
    }

    @Test
    void spectrumHoldsAnExplicitMethodToMemory() throws Exception {
        String[] args = {"spectrum", "--model", "fcn(depth=2,width=32,out=10)", "--data", "synthetic:16,20",
            "--kind", "full", "--dtype", "f64", "--method", "sd", "--top", "0"};
        String least = leastBudget(with(args, "--memory", "8k"));
        Path bounded = dir.resolve("bounded.npy");
        Path whole = dir.resolve("whole.npy");
        run(0, with(args, "--memory", least, "--eigenvalues-out", bounded.toString()));
        run(0, with(args, "--eigenvalues-out", whole.toString()));
        try (Tensor a = Npy.readTensor(bounded); Tensor b = Npy.readTensor(whole)) {
            double scale = Math.abs(b.getFlat(b.size() - 1));
            assertThat(a.size()).isEqualTo(160);
            for (int i = 0; i < b.size(); i++) {
                assertThat(a.getFlat(i)).as("eigenvalue " + i)
                        .isCloseTo(b.getFlat(i), org.assertj.core.data.Offset.offset(1e-12 * scale));
            }
            // a kernel read from a file is not computed: --memory is refused with it, as --method is
            assertThat(run(2, "spectrum", whole.toString(), "--memory", "1g")[1].trim()).isEqualTo("ntk4j: "
                    + "--memory: applies only when spectrum computes the kernel (no K.npy); " + whole
                    + " is read as it is");
        }
    }

    @Test
    void approxHoldsAutoToMemoryOverEveryKind() {
        String[] args = {"approx", "--model", "fcn(depth=2,width=32,out=10)", "--data", "synthetic:18,20", "--n",
            "12", "--kinds", "pntk,trace,logit:0", "--dtype", "f64"};
        String least = leastBudget(with(args, "--memory", "8k"));
        assertThat(run(0, with(args, "--memory", least))[0]).contains("| pntk |").contains("| logit:0 |");
    }

    /** The widest width's kernels are planned before the first width: its least, given back, runs them all. */
    @Test
    void approxWidthStudyHoldsAnExplicitMethodToMemoryAtEveryWidth() throws Exception {
        Path bounded = dir.resolve("bounded.json");
        Path whole = dir.resolve("whole.json");
        String[] args = {"approx", "--model", "fcn(depth=2,out=10)", "--data", "synthetic:14,12", "--n", "10",
            "--widths", "8,32", "--seeds", "1", "--method", "sd", "--dtype", "f64"};
        String least = leastBudget(with(args, "--memory", "8k"));
        run(0, with(args, "--memory", least, "--report", bounded.toString()));
        run(0, with(args, "--report", whole.toString()));
        assertSameFigures(figures(bounded, "error"), figures(whole, "error"));
    }

    @Test
    void convergenceHoldsAnExplicitMethodToMemoryAtEveryWidth() throws Exception {
        Path csv = dir.resolve("x.csv");
        StringBuilder text = new StringBuilder("a,b,c,d,e\n");
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 5; j++) {
                text.append(j > 0 ? "," : "").append(String.format(java.util.Locale.ROOT, "%.5f",
                        random.nextGaussian()));
            }
            text.append('\n');
        }
        Files.writeString(csv, text.toString(), StandardCharsets.UTF_8);
        Path bounded = dir.resolve("bounded.json");
        Path whole = dir.resolve("whole.json");
        String[] args = {"convergence", "--model", "fcn(depth=1,out=3,act=erf)", "--widths", "16,64", "--seeds", "1",
            "--ensemble", "2", "--data", csv.toString(), "--dtype", "f64", "--method", "sd"};
        String least = leastBudget(with(args, "--memory", "4k"));
        run(0, with(args, "--memory", least, "--report", bounded.toString()));
        run(0, with(args, "--report", whole.toString()));
        assertSameFigures(figures(bounded, "distance", "single_", "exponent"),
                figures(whole, "distance", "single_", "exponent"));
        // --memory is not a setting a resume must match (it changes the round-off of chunks only): a run stopped
        // after its first width under the least budget resumes under the default one, to the same figures
        Path partial = dir.resolve("partial.json");
        run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " width");
        }, with(args, "--memory", least, "--report", partial.toString()));
        assertThat(JsonReport.read(partial).get("complete")).isEqualTo(false);
        assertThat(run(0, with(args, "--report", partial.toString(), "--resume"))[0]).contains("1 of 2 widths done");
        assertSameFigures(figures(partial, "distance", "single_", "exponent"),
                figures(whole, "distance", "single_", "exponent"));
    }

    @Test
    void studyHoldsAnExplicitMethodToMemoryAtEveryWidth() throws Exception {
        for (int width : new int[] {8, 32}) {
            org.ntk4j.nn.Model net = org.ntk4j.nn.Zoo.parse("fcn(depth=1,out=10,width=" + width + ")");
            Path w = Files.createDirectories(dir.resolve("w" + width));
            try (org.ntk4j.nn.Params p = net.init(width, new int[] {28, 28, 1}, org.ntk4j.tensor.DType.F32)) {
                org.ntk4j.io.ParamsFile.save(p, w.resolve("epoch-0.npz"));
            }
        }
        Path bounded = dir.resolve("bounded.json");
        Path whole = dir.resolve("whole.json");
        String[] args = {"study", "--model", "fcn(depth=1,out=10)", "--widths", "8,32", "--checkpoints",
            dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18",
            "--kinds", "pntk", "--method", "sd"};
        String least = leastBudget(with(args, "--memory", "8k"));
        run(0, with(args, "--memory", least, "--json", bounded.toString()));
        run(0, with(args, "--json", whole.toString()));
        assertSameFigures(figures(bounded, "relative_frobenius_error", "lambda_max", "accuracy"),
                figures(whole, "relative_frobenius_error", "lambda_max", "accuracy"));
    }

    /**
     * kernel --nngp runs forward passes and one contraction, no NTK method: AUTO's NTK refusal (no method fits) no
     * longer refuses it (before 2026-12-07 it did); its own cost binds it, refused in one line naming its least,
     * which given back runs the same kernel, its FLOPs as predicted and its peak within the prediction.
     */
    @Test
    void theNngpIsHeldToTheBudgetByItsOwnCost() throws Exception {
        String[] args = {"kernel", "--model", "fcn(depth=2,width=64,out=10)", "--data", "synthetic:30,20", "--dtype",
            "f64"};
        assertThat(run(2, with(args, "--memory", "100k"))[1]).startsWith("ntk4j: memory budget: no method fits");
        Path whole = dir.resolve("whole.npy");
        run(0, with(args, "--nngp", "--out", whole.toString()));
        String err = run(2, with(args, "--nngp", "--memory", "40k"))[1];
        assertThat(err).startsWith("ntk4j: memory budget: the NNGP of 30 × 30 examples needs at least ");
        String least = leastBudget(with(args, "--nngp", "--memory", "40k"));
        assertThat(KernelOptions.parseBytes("--memory", least)).isLessThan(100 << 10);
        Path bounded = dir.resolve("bounded.npy");
        Path report = dir.resolve("r.json");
        run(0, with(args, "--nngp", "--memory", least, "--out", bounded.toString(), "--report", report.toString()));
        JsonReport r = JsonReport.read(report);
        assertThat(((Number) r.get("predicted_flops")).longValue())
                .isEqualTo(((Number) r.get("flops_counted")).longValue());
        assertThat(((Number) r.get("peak_bytes")).doubleValue())
                .isLessThanOrEqualTo(1.01 * ((Number) r.get("predicted_peak_bytes")).doubleValue());
        try (Tensor a = Npy.readTensor(bounded); Tensor b = Npy.readTensor(whole)) {
            assertThat(a.toDoubleArray()).containsExactly(b.toDoubleArray());
        }
    }

    /**
     * predict --posterior nngp computes NNGP kernels only: a budget below every NTK method's least but above the
     * NNGP's runs it (before 2026-12-07 it was refused after the kernels, for the NTK method it does not run).
     */
    @Test
    void theNngpPosteriorIsHeldToTheBudgetByItsOwnCost() {
        String[] args = {"predict", "--model", "fcn(depth=2,width=64,out=10)", "--train", "default:train:40",
            "--test", "default:test:20", "--kind", "trace", "--t", "inf", "--dtype", "f64"};
        long ntk = KernelOptions.parseBytes("--memory", leastBudget(with(args, "--posterior", "ntk", "--memory",
                "8k")));
        String least = leastBudget(with(args, "--posterior", "nngp", "--memory", "8k"));
        assertThat(KernelOptions.parseBytes("--memory", least)).isLessThan(ntk);
        assertThat(run(0, with(args, "--posterior", "nngp", "--memory", least))[0]).contains("posterior nngp");
    }

    /**
     * The library's refusal of a budget advises tiles with --out, which only kernel computes: a refusal raised
     * while predict runs (its test kernel, 400 × 16 examples, planned after the train kernel fitted) came with that
     * advice although predict's --out is the predictions; kernel on the same pair of inputs keeps it.
     */
    @Test
    void onlyKernelIsAdvisedTilesWithOut() {
        String model = "fcn(depth=2,width=32,out=10)";
        String[] predict = run(2, "predict", "--model", model, "--train", "default:train:16", "--test",
                "default:test:400", "--method", "vp", "--memory", "266k");
        assertThat(predict[1]).startsWith("ntk4j: memory budget: method vp needs at least ")
                .endsWith("raise --memory to at least 1.7 MiB\n").doesNotContain("--out").doesNotContain("tiles");
        String[] kernel = run(2, "kernel", "--model", model, "--data", "default:test:400", "--x2",
                "default:train:16", "--method", "vp", "--memory", "266k");
        assertThat(kernel[1]).startsWith("ntk4j: memory budget: method vp needs at least ")
                .endsWith(", or compute it in tiles with --out, which may fit\n");
        // with explicit axes kernel computes in memory even with --out: no advice of tiles
        assertThat(run(2, "kernel", "--model", model, "--data", "default:test:400", "--x2", "default:train:16",
                "--method", "vp", "--memory", "266k", "--trace-axes", "none")[1]).doesNotContain("--out");
    }

    /**
     * The NNGP and the analytic limit run no NTK method: an explicit --method was ignored without a word (predict's
     * NNGP posterior even printed "method jc"); it is refused in one line, while --method auto (the default) runs.
     */
    @Test
    void anExplicitMethodIsRefusedWhereNoNtkMethodRuns() {
        String model = "fcn(depth=2,width=32,out=10)";
        assertThat(run(2, "kernel", "--model", model, "--data", "synthetic:6,20", "--kind", "trace", "--nngp",
                "--method", "sd")[1]).isEqualTo("ntk4j: --method sd: --nngp: the NNGP (forward passes and one "
                + "contraction of the outputs) runs no NTK method, so --method does not apply; drop it\n");
        assertThat(run(2, "kernel", "--model", model, "--data", "synthetic:6,20", "--kind", "trace", "--infinite",
                "--method", "jc")[1]).isEqualTo("ntk4j: --method jc: --infinite: the analytic kernel (a closed form) "
                + "runs no NTK method, so --method does not apply; drop it\n");
        String[] predict = {"predict", "--model", model, "--train", "default:train:8", "--test", "default:test:4",
            "--posterior", "nngp", "--kind", "trace", "--t", "inf"};
        assertThat(run(2, with(predict, "--method", "vp"))[1]).isEqualTo("ntk4j: --method vp: --posterior nngp: the "
                + "NNGP posterior (forward passes and one contraction of the outputs) runs no NTK method, so --method "
                + "does not apply; drop it\n");
        assertThat(run(0, with(predict, "--method", "auto"))[0]).contains("posterior nngp (gp_inference, kind "
                + "trace, diag_reg ").doesNotContain("method");
        assertThat(run(0, "kernel", "--model", model, "--data", "synthetic:6,20", "--kind", "trace", "--nngp",
                "--method", "auto")[0]).contains("kind trace nngp");
    }

    /**
     * projected:K forms its Jacobian rows as jc forms them, whatever the method: an explicit vp or sd was ignored
     * without a word (kernel, explain, predict and spectrum); it is refused in one line, the one rule of
     * {@link KernelOptions}, while jc, which is what runs, and auto are taken.
     */
    @Test
    void anExplicitMethodThatProjectedIgnoresIsRefused() {
        String model = "fcn(depth=2,width=32,out=4)";
        String line = "ntk4j: --method %s: --kind projected:8 sketches Jacobian rows formed as jc forms them, "
                + "whatever the method, so --method does not apply; drop it, or give jc\n";
        String[] kernel = {"kernel", "--model", model, "--data", "synthetic:6,5", "--kind", "projected:8"};
        assertThat(run(2, with(kernel, "--method", "vp"))[1]).isEqualTo(String.format(line, "vp"));
        assertThat(run(2, with(kernel, "--method", "sd", "--out", dir.resolve("K.npy").toString()))[1])
                .isEqualTo(String.format(line, "sd"));
        assertThat(dir.resolve("K.npy")).doesNotExist();
        assertThat(run(0, with(kernel, "--method", "jc"))[0]).contains("kind projected:8, method jc rows + sketch: ");
        assertThat(run(2, "explain", "--model", model, "--input", "5", "--n", "6", "--kind", "projected:8",
                "--method", "vp")[1]).isEqualTo(String.format(line, "vp"));
        assertThat(run(0, "explain", "--model", model, "--input", "5", "--n", "6", "--kind", "projected:8",
                "--method", "jc", "--tiled")[0]).contains("method jc");
        assertThat(run(2, "predict", "--model", model, "--train", "synthetic:6,5", "--test", "synthetic:3,5",
                "--kind", "projected:8", "--method", "sd")[1]).isEqualTo(String.format(line, "sd"));
        assertThat(run(2, "spectrum", "--model", model, "--data", "synthetic:6,5", "--kind", "projected:8",
                "--method", "vp")[1]).isEqualTo(String.format(line, "vp"));
        // the other kinds run the method given, and explicit axes are no kind
        assertThat(run(0, "kernel", "--model", model, "--data", "synthetic:6,5", "--kind", "pntk", "--method",
                "vp")[0]).contains("method vp: ");
    }

    /**
     * explain's table ends in AUTO's refusal when no method fits, which advised tiles with --out although the axes
     * form is computed in memory only (the error handler took the advice out of refusals, not of the table); a kind,
     * which kernel --out tiles, keeps it.
     */
    @Test
    void explainsTableAdvisesTilesOnlyForAKind() {
        String[] args = {"explain", "--model", "fcn(depth=2,width=64,out=10)", "--input", "20", "--n", "200",
            "--memory", "64k"};
        String axes = run(0, with(args, "--trace-axes", "none"))[0];
        assertThat(axes).contains("auto chooses: nothing — memory budget: no method fits in 64.0 KiB")
                .doesNotContain("--out").doesNotContain("tiles with");
        assertThat(axes.lines().filter(l -> l.startsWith("auto chooses:")).findFirst().orElseThrow())
                .endsWith("(raise --memory)");
        assertThat(run(0, with(args, "--kind", "full"))[0]).contains("(raise --memory, or compute it in tiles with "
                + "--out)");
    }

    /**
     * The NNGP runs no NTK method, but the reports of kernel --nngp and predict --posterior nngp said "method": "jc";
     * they say "nngp", what ran, and an NTK kernel's report still names its method.
     */
    @Test
    void theNngpsReportsSayTheNngpRan() throws Exception {
        String model = "fcn(depth=2,width=32,out=10)";
        Path kernel = dir.resolve("kernel.json");
        run(0, "kernel", "--model", model, "--data", "synthetic:6,20", "--nngp", "--report", kernel.toString());
        assertThat(JsonReport.read(kernel).get("method")).isEqualTo("nngp");
        Path ntk = dir.resolve("ntk.json");
        run(0, "kernel", "--model", model, "--data", "synthetic:6,20", "--method", "vp", "--report", ntk.toString());
        assertThat(JsonReport.read(ntk).get("method")).isEqualTo("vp");
        Path predict = dir.resolve("predict.json");
        String[] args = {"predict", "--model", model, "--train", "default:train:8", "--test", "default:test:4",
            "--kind", "trace", "--t", "inf", "--report", predict.toString()};
        run(0, with(args, "--posterior", "nngp"));
        assertThat(JsonReport.read(predict).get("method")).isEqualTo("nngp");
        assertThat(JsonReport.read(predict).get("posterior")).isEqualTo("nngp");
        run(0, with(args, "--posterior", "ntk", "--method", "sd", "--overwrite"));
        assertThat(JsonReport.read(predict).get("method")).isEqualTo("sd");
    }
}
