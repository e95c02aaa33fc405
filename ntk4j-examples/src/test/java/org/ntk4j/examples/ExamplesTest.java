package org.ntk4j.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Runs every example's main and checks what it prints. The cheap ones run the command docs/examples.md shows and
 * their output is compared with the page's, all but timings, round-off figures and the heap's memory budget
 * ({@link #fixedFigures}): sizes, FLOP counts and predicted peaks are the same on every machine, so a page left
 * behind by a change of the cost model fails here.
 */
class ExamplesTest {
    @TempDir
    Path dir;

    /** The example's standard output. */
    interface Main {
        void run() throws Exception;
    }

    static String stdout(Main main) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            main.run();
        } finally {
            System.setOut(old);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        old.print(out);
        return out;
    }

    /** The number after {@code label} in {@code text}. */
    static double number(String text, String label) {
        Matcher m = Pattern.compile(Pattern.quote(label) + "\\s*([-+0-9.eE]+)").matcher(text);
        assertThat(m.find()).as("'%s' in the output", label).isTrue();
        return Double.parseDouble(m.group(1));
    }

    /** The repository root (surefire sets ntk4j.repoRoot; from the module directory, its parent). */
    static Path root() {
        String property = System.getProperty("ntk4j.repoRoot");
        return (property != null ? Path.of(property) : Path.of("..")).toAbsolutePath().normalize();
    }

    private static final Pattern RECORDED = Pattern.compile(
            "^Output \\(recorded \\d{4}-\\d{2}-\\d{2}, `ntk4j-examples/run ([A-Za-z]+)([^`]*)`");

    /**
     * The output docs/examples.md records for an example, checking that it was recorded with {@code args}.
     *
     * @param name the example
     * @param args the arguments of the recorded command, as one string ("" for none)
     * @return the lines of the text block after "Output (recorded DATE, `ntk4j-examples/run NAME ARGS`...)"
     */
    static List<String> recorded(String name, String args) throws IOException {
        List<String> lines = Files.readAllLines(root().resolve("docs/examples.md"), StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            Matcher m = RECORDED.matcher(lines.get(i));
            if (m.find() && m.group(1).equals(name)) {
                assertThat(m.group(2).trim()).as("the arguments of %s's recorded run", name).isEqualTo(args);
                int from = i + 1;
                while (!lines.get(from).equals("```text")) {
                    from++;
                }
                int to = from + 1;
                while (!lines.get(to).equals("```")) {
                    to++;
                }
                return lines.subList(from + 1, to);
            }
        }
        throw new AssertionError("docs/examples.md records no run of " + name);
    }

    /**
     * The lines with what varies between machines and runs masked: timings ("in 0.86 s", "(2.2 s)"), round-off
     * figures (%.1e with a two-digit negative exponent: 3.3e-16) and a budget that follows the heap (GiB).
     */
    static List<String> fixedFigures(List<String> lines) {
        return lines.stream().map(l -> l.replaceAll("\\d+(\\.\\d+)? s\\b", "# s")
                .replaceAll("\\d\\.\\de-\\d\\d", "#e-##")
                .replaceAll("(budget of|of the) \\d+(\\.\\d+)? GiB", "$1 # GiB")).collect(Collectors.toList());
    }

    /** Asserts that an example printed what docs/examples.md records for it, but for {@link #fixedFigures}. */
    static void assertAsDocumented(String printed, String name, String args) throws IOException {
        assertThat(fixedFigures(printed.lines().collect(Collectors.toList())))
                .as("%s's output against docs/examples.md (timings and round-off masked); re-record the page if the "
                        + "change is meant", name)
                .containsExactlyElementsOf(fixedFigures(recorded(name, args)));
    }

    @Test
    void theMaskLeavesTheFixedFigures() {
        assertThat(fixedFigures(List.of("jc: kernel [16, 16, 10, 10] in 0.856 s",
                "jc 2.032e+08 11.6 MiB, of the 4.7 GiB budget, the memory budget of 12 GiB, 64.0 MiB budget",
                "vp vs jc 3.3e-16, loss 0.25 (2.0 s)")))
                .containsExactly("jc: kernel [16, 16, 10, 10] in # s",
                        "jc 2.032e+08 11.6 MiB, of the # GiB budget, the memory budget of # GiB, 64.0 MiB budget",
                        "vp vs jc #e-##, loss 0.25 (# s)");
    }

    @Test
    void everyExampleHasASectionInTheDocs() throws IOException {
        String docs = Files.readString(root().resolve("docs/examples.md"));
        List<String> examples = examples();
        assertThat(examples).contains("ThreeMethods", "SgdCheckpoints");
        for (String name : examples) {
            assertThat(docs).as("docs/examples.md's section on %s", name)
                    .contains("Source: [`" + name + ".java`](../ntk4j-examples/src/main/java/org/ntk4j/examples/"
                            + name + ".java)");
        }
    }

    /** The classes of the examples' package with a main method: the examples. */
    static List<String> examples() throws IOException {
        Path dir = root().resolve("ntk4j-examples/src/main/java/org/ntk4j/examples");
        List<String> names = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().collect(Collectors.toList())) {
                if (Files.readString(f).contains("public static void main(String[] args)")) {
                    names.add(f.getFileName().toString().replace(".java", ""));
                }
            }
        }
        return names;
    }

    @Test
    void fashionMnistPntkBeatsChanceByFar() throws Exception {
        String out = stdout(() -> FashionMnistPntk.main(new String[] {"200", "100", "64"}));
        assertThat(out).contains("pntk train-train [200, 200], test-train [100, 200]");
        // 10 classes (chance 0.1); 200 training images give about 0.7
        assertThat(number(out, "test accuracy")).isGreaterThan(0.55);
    }

    @Test
    void infiniteWidthEnsembleMatchesAnIndependentPosterior() throws Exception {
        String out = stdout(() -> InfiniteWidthEnsemble.main(new String[0]));   // as the docs: 300 200 512
        assertAsDocumented(out, "InfiniteWidthEnsemble", "");
        // rows: t, nngp accuracy, nngp variance, ntk accuracy, ntk variance, finite accuracy
        List<String[]> rows = out.lines().filter(l -> l.matches("^(\\d+|inf) .*"))
                .map(l -> l.trim().split("\\s+")).collect(Collectors.toList());
        assertThat(rows).extracting(r -> r[0]).containsExactly("0", "100", "1000", "10000", "100000", "inf");
        for (int i = 1; i < rows.size(); i++) {
            // the nngp ensemble's variance K_tt − K_td V diag((1 − e^(−2λs))/λ) Vᵀ K_dt falls with every t; the ntk
            // one's did here (equal at 100000 and inf to the 4 digits printed)
            assertThat(Double.parseDouble(rows.get(i)[2])).isLessThan(Double.parseDouble(rows.get(i - 1)[2]));
            assertThat(Double.parseDouble(rows.get(i)[4]))
                    .isLessThanOrEqualTo(Double.parseDouble(rows.get(i - 1)[4]));
        }
        assertThat(Double.parseDouble(rows.get(5)[4])).isLessThan(Double.parseDouble(rows.get(1)[4]));
        // chance is 0.1: each model, trained to the end, beats it by far
        for (int c : new int[] {1, 3, 5}) {
            assertThat(Double.parseDouble(rows.get(5)[c])).as("accuracy at t = inf, column %d", c).isGreaterThan(0.55);
        }
        assertThat(number(out, "posterior mean: max |difference|")).isLessThan(1e-12);
        assertThat(number(out, "t = 1e12 vs t = inf: max |difference|")).isLessThan(1e-9);

        // The oracle: the posteriors at t = ∞ from the limit's kernels, by a plain float64 Cholesky solve here.
        InfiniteLimit limit = InfiniteLimit.of("fcn(depth=2,width=512,out=10,act=relu)");
        KernelKind trace = KernelKind.trace();
        try (Dataset train = DataSource.loadDataset("default:train:300", DType.F64, 0);
             Dataset test = DataSource.loadDataset("default:test:200", DType.F64, 0);
             Tensor kdd = limit.kernel(trace, train.x(), null, LimitKernel.NNGP, DType.F64);
             Tensor ktd = limit.kernel(trace, test.x(), train.x(), LimitKernel.NNGP, DType.F64);
             Tensor ktt = limit.kernel(trace, test.x(), null, LimitKernel.NNGP, DType.F64);
             Tensor tdd = limit.kernel(trace, train.x(), null, LimitKernel.NTK, DType.F64);
             Tensor ttd = limit.kernel(trace, test.x(), train.x(), LimitKernel.NTK, DType.F64)) {
            double[][] y = new double[300][10];
            for (int i = 0; i < 300; i++) {
                for (int o = 0; o < 10; o++) {
                    y[i][o] = (train.labels()[i] == o ? 1 : 0) - 0.1;
                }
            }
            double[][] kDD = matrix(kdd);
            double[][] kTD = matrix(ktd);
            double[][] kTT = matrix(ktt);
            double[][] tDD = matrix(tdd);
            double[][] tTD = matrix(ttd);
            // nngp: mean K_td (K_dd + rI)⁻¹ y, variance K_tt − K_td (K_dd + rI)⁻¹ K_dt
            double[][] lk = cholesky(kDD, 1e-4);
            double[][] wk = solve(lk, transpose(kTD));           // (K_dd + rI)⁻¹ K_dt [300, 200]
            double varNngp = 0;
            double varPrior = 0;
            for (int m = 0; m < 200; m++) {
                varPrior += kTT[m][m] / 200;
                varNngp += (kTT[m][m] - dot(kTD[m], column(wk, m))) / 200;
            }
            // ntk: mean Θ_td (Θ_dd + rI)⁻¹ y; variance K_tt + A K_dd Aᵀ − A K_dt − K_td Aᵀ, A = Θ_td (Θ_dd + rI)⁻¹
            double[][] lt = cholesky(tDD, 1e-4);
            double[][] at = solve(lt, transpose(tTD));           // Aᵀ [300, 200]
            double varNtk = 0;
            for (int m = 0; m < 200; m++) {
                double[] a = column(at, m);
                double aKa = 0;
                for (int j = 0; j < 300; j++) {
                    aKa += a[j] * dot(kDD[j], a);
                }
                varNtk += (kTT[m][m] + aKa - 2 * dot(a, kTD[m])) / 200;
            }
            assertThat(Double.parseDouble(rows.get(0)[2])).isCloseTo(varPrior, within(5.1e-5));
            assertThat(Double.parseDouble(rows.get(0)[4])).isCloseTo(varPrior, within(5.1e-5));
            assertThat(Double.parseDouble(rows.get(5)[2])).isCloseTo(varNngp, within(5.1e-5));
            assertThat(Double.parseDouble(rows.get(5)[4])).isCloseTo(varNtk, within(5.1e-5));
            assertThat(rows.get(5)[1]).isEqualTo(accuracy(multiply(kTD, solve(lk, y)), test.labels()));
            assertThat(rows.get(5)[3]).isEqualTo(accuracy(multiply(tTD, solve(lt, y)), test.labels()));
        }
    }

    private static double[][] matrix(Tensor t) {
        double[][] r = new double[t.dim(0)][t.dim(1)];
        for (int i = 0; i < r.length; i++) {
            for (int j = 0; j < r[i].length; j++) {
                r[i][j] = t.get(i, j);
            }
        }
        return r;
    }

    /** The lower Cholesky factor of K + rI, r = diagReg · trace(K)/N. */
    private static double[][] cholesky(double[][] k, double diagReg) {
        int n = k.length;
        double r = 0;
        for (int i = 0; i < n; i++) {
            r += k[i][i];
        }
        r *= diagReg / n;
        double[][] l = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = k[i][j] + (i == j ? r : 0);
                for (int p = 0; p < j; p++) {
                    s -= l[i][p] * l[j][p];
                }
                l[i][j] = i == j ? Math.sqrt(s) : s / l[j][j];
            }
        }
        return l;
    }

    /** (L Lᵀ)⁻¹ b for b [n, k]. */
    private static double[][] solve(double[][] l, double[][] b) {
        int n = l.length;
        int k = b[0].length;
        double[][] x = new double[n][k];
        for (int c = 0; c < k; c++) {
            for (int i = 0; i < n; i++) {
                double s = b[i][c];
                for (int p = 0; p < i; p++) {
                    s -= l[i][p] * x[p][c];
                }
                x[i][c] = s / l[i][i];
            }
            for (int i = n - 1; i >= 0; i--) {
                double s = x[i][c];
                for (int p = i + 1; p < n; p++) {
                    s -= l[p][i] * x[p][c];
                }
                x[i][c] = s / l[i][i];
            }
        }
        return x;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    private static double[] column(double[][] a, int c) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i][c];
        }
        return r;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double[][] multiply(double[][] a, double[][] b) {
        double[][] r = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < b[0].length; j++) {
                r[i][j] = dot(a[i], column(b, j));
            }
        }
        return r;
    }

    /** The accuracy of the rows' argmax, as the examples print it. */
    private static String accuracy(double[][] f, int[] labels) {
        int right = 0;
        for (int m = 0; m < labels.length; m++) {
            int best = 0;
            for (int k = 1; k < f[m].length; k++) {
                best = f[m][k] > f[m][best] ? k : best;
            }
            right += best == labels[m] ? 1 : 0;
        }
        return String.format(Locale.ROOT, "%.3f", (double) right / labels.length);
    }

    @Test
    void sgdCheckpointsLowerTheLossAndWriteEveryEpoch() throws Exception {
        Path out = dir.resolve("ckpt");
        String text = stdout(() -> SgdCheckpoints.main(new String[] {out.toString(), "default:train:256", "2", "16",
            "fcn(depth=1,out=10)"}));
        assertThat(number(text, "width 16 epoch 2: mean train loss"))
                .isLessThan(number(text, "width 16 epoch 1: mean train loss"));
        for (int e = 0; e <= 2; e++) {
            assertThat(out.resolve("w16").resolve("epoch-" + e + ".npz")).isRegularFile();
        }
    }

    @Test
    void threeMethodsAgreeInFloat64() throws Exception {
        String out = stdout(() -> ThreeMethods.main(new String[0]));   // as docs/examples.md runs it: 16 16
        assertAsDocumented(out, "ThreeMethods", "");
        assertThat(out).contains("AUTO runs ").contains("jc: kernel [16, 16, 10, 10]");
        assertThat(out).contains("structured_derivatives (sd)").contains("jacobian_contraction (jc)");
        assertThat(number(out, "vp vs jc")).isLessThan(1e-10);
        assertThat(number(out, "sd vs jc")).isLessThan(1e-10);
    }

    @Test
    void customPrimitiveHasCorrectDerivativesAndAStructure() throws Exception {
        String out = stdout(() -> CustomLayerAndPrimitive.main(new String[0]));   // as the docs: 8 32
        assertAsDocumented(out, "CustomLayerAndPrimitive", "");
        assertThat(out).contains("scale[c=0.5]").contains("softsign");
        assertThat(number(out, "jvp vs finite differences")).isLessThan(1e-6);
        assertThat(number(out, "adjoint gap")).isLessThan(1e-10);
        assertThat(out).contains("kernel [8, 8, 3, 3]");
        assertThat(number(out, "vp vs jc")).isLessThan(1e-10);
        assertThat(number(out, "sd vs jc")).isLessThan(1e-10);
        // all six parameters (3 × w, b) structured with the rule; without it the three w go to the fallback
        assertThat(out).contains("with the structure rule:    6 of 6 parameters structured, 0 through")
                .contains("without the structure rule: 3 of 6 parameters structured, 3 through");
    }

    @Test
    void tiledFileEqualsTheKernelInMemory() throws Exception {
        Path out = dir.resolve("k.npy");
        // the docs run the defaults: 200 examples into a temporary k.npy
        String text = stdout(() -> TiledKernelToFile.main(new String[] {"200", out.toString()}));
        assertAsDocumented(text, "TiledKernelToFile", "");
        assertThat(text).contains("grid 5 × 5, upper triangle mirrored").contains("computed 15 tiles");
        assertThat(text).contains("file [200, 200]");
        assertThat(number(text, "in-memory kernel")).isLessThan(1e-12);
        assertThat(Files.exists(out)).isTrue();
        assertThat(Files.exists(dir.resolve("k.npy.partial"))).isFalse();
    }

    /** An example run through {@link ExampleArgs#run}: its exit code and stderr. */
    record Refusal(int code, String stderr) {
    }

    static Refusal refusal(String usage, ExampleArgs.Body body, String... args) throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = ExampleArgs.run(usage, args, body, new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Refusal(code, err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void badArgumentsEndInOneLineWithTheUsage() throws Exception {
        assertThat(refusal(ThreeMethods.USAGE, ThreeMethods::run, "abc")).isEqualTo(new Refusal(2,
                "ThreeMethods: N must be a positive integer, got 'abc' (usage: ntk4j-examples/run ThreeMethods [N] "
                        + "[CHANNELS])\n"));
        assertThat(refusal(ThreeMethods.USAGE, args -> {
            throw new AssertionError("--help runs nothing");
        }, "--help")).isEqualTo(new Refusal(0, ""));
        assertThat(refusal(ThreeMethods.USAGE, ThreeMethods::run, "4", "0").stderr())
                .startsWith("ThreeMethods: CHANNELS must be a positive integer, got '0' (usage:");
        assertThat(refusal(CustomLayerAndPrimitive.USAGE, CustomLayerAndPrimitive::run, "3", "8", "9").stderr())
                .startsWith("CustomLayerAndPrimitive: expected at most 2 arguments, got 3 [3, 8, 9] (usage:");
        assertThat(refusal(InfiniteWidthEnsemble.USAGE, InfiniteWidthEnsemble::run, "300", "0").stderr())
                .startsWith("InfiniteWidthEnsemble: TEST must be a positive integer, got '0' (usage:");
        assertThat(refusal(FashionMnistPntk.USAGE, FashionMnistPntk::run, "--overwrite").stderr())
                .startsWith("FashionMnistPntk: unknown option '--overwrite' (usage:");
        // input the library refuses: one line too
        assertThat(refusal(FashionMnistPntk.USAGE, FashionMnistPntk::run, "5000").stderr())
                .isEqualTo("FashionMnistPntk: data source 'default:train:5000': N=5000 is outside [1, 2000] (usage: "
                        + "ntk4j-examples/run FashionMnistPntk [TRAIN] [TEST] [WIDTH])\n");
        assertThat(refusal(SparkBlockMatrix.USAGE, SparkBlockMatrix::run, "96", "foo").stderr())
                .startsWith("SparkBlockMatrix: MASTER must be local, local[K], local[*], local[K,F], yarn or a URL "
                        + "such as spark://host:7077, got 'foo' (usage:");
        assertThat(refusal(TiledKernelToFile.USAGE, TiledKernelToFile::run, "32", dir.resolve("k.txt").toString())
                .stderr()).startsWith("TiledKernelToFile: OUT.npy must end in .npy, got '" + dir.resolve("k.txt"));
        assertThat(refusal(SgdCheckpoints.USAGE, SgdCheckpoints::run, dir.toString(), "default:train:64", "1",
                "16,x").stderr()).startsWith("SgdCheckpoints: WIDTHS must be positive integers separated by commas, "
                + "got '16,x' (usage:");
        assertThat(refusal(SgdCheckpoints.USAGE, SgdCheckpoints::run, dir.toString(), "default:train:64", "1",
                "16", "fcn(out=5)").stderr()).startsWith("SgdCheckpoints: MODEL fcn(out=5,width=16) gives outputs [5] "
                + "per example; cross-entropy on default:train:64 needs one vector of at least 10");
        assertThat(refusal(SgdCheckpoints.USAGE, SgdCheckpoints::run, dir.toString(), "default:train:64", "1",
                "16", "linearize(fcn)").stderr()).startsWith("SgdCheckpoints: model 'linearize(fcn)' has no width "
                + "to vary; models with one are cnn, fcn, resnet, resnet18,");
        try (Stream<Path> left = Files.list(dir)) {
            assertThat(left).as("nothing written by a refused run").isEmpty();
        }
    }

    @Test
    void noExampleReplacesAFileOfYoursWithoutOverwrite() throws Exception {
        Path mine = Files.writeString(dir.resolve("mine.npy"), "my data");
        assertThat(refusal(TiledKernelToFile.USAGE, TiledKernelToFile::run, "32", mine.toString()).stderr())
                .isEqualTo("TiledKernelToFile: " + mine + " exists; pass --overwrite to replace it (usage: "
                        + "ntk4j-examples/run TiledKernelToFile [N] [OUT.npy] [--overwrite])\n");
        assertThat(mine).hasContent("my data");
        Path plots = Files.createDirectories(dir.resolve("plots"));
        Files.writeString(plots.resolve("kernel.png"), "my picture");
        assertThat(refusal(SpectrumAndPlot.USAGE, SpectrumAndPlot::run, "20", plots.toString()).stderr())
                .startsWith("SpectrumAndPlot: " + plots.resolve("kernel.png") + " exists; pass --overwrite");
        assertThat(plots.resolve("kernel.png")).hasContent("my picture");
        assertThat(plots.resolve("spectrum.png")).doesNotExist();
        Path ckpt = dir.resolve("ckpt");
        Files.createDirectories(ckpt.resolve("w16"));
        Files.writeString(ckpt.resolve("w16/epoch-1.npz"), "my checkpoint");
        assertThat(refusal(SgdCheckpoints.USAGE, SgdCheckpoints::run, ckpt.toString(), "default:train:64", "1",
                "16").stderr()).startsWith("SgdCheckpoints: " + ckpt.resolve("w16/epoch-1.npz") + " exists");
        assertThat(ckpt.resolve("w16/epoch-0.npz")).as("checked before the first checkpoint").doesNotExist();
        // --overwrite replaces it
        String text = stdout(() -> TiledKernelToFile.main(new String[] {"32", mine.toString(), "--overwrite"}));
        assertThat(text).contains("file [32, 32]");
        assertThat(Files.size(mine)).isGreaterThan(32 * 32 * 8);
    }

    @Test
    void theRunScriptRefusesAnUnknownExampleInOneLine() throws Exception {
        Path script = root().resolve("ntk4j-examples/run");
        for (String[] args : new String[][] {{"NoSuchExample"}, {"ExampleArgs"}, {}}) {
            List<String> command = new ArrayList<>(List.of("bash", script.toString()));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("exit code of run %s", List.of(args)).isEqualTo(2);
            assertThat(err.lines().count()).as("stderr of run %s: %s", List.of(args), err).isEqualTo(1);
            assertThat(err.strip()).isEqualTo((args.length == 0 ? "usage: ntk4j-examples/run NAME [ARGS...]"
                    : "ntk4j-examples/run: no example '" + args[0] + "'") + "; NAME is one of: "
                    + String.join(" ", examples()));
        }
    }

    @Test
    void spectrumAndPngCharts() throws Exception {
        String out = stdout(() -> SpectrumAndPlot.main(new String[] {"300", dir.toString()}));
        assertAsDocumented(out, "SpectrumAndPlot", "300 /tmp/ex-plots");
        assertThat(out).contains("kernel 300 × 300");
        assertThat(number(out, "λ_max")).isGreaterThan(number(out, "λ_min"));
        assertThat(number(out, "effective rank")).isBetween(1.0, 300.0);
        for (String png : new String[] {"spectrum.png", "kernel.png"}) {
            byte[] head = Files.readAllBytes(dir.resolve(png));
            assertThat(head.length).isGreaterThan(1000);
            assertThat(new String(head, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
        }
    }

    @Test
    void sparkKernelAsBlockMatrix() throws Exception {
        String out = stdout(() -> SparkBlockMatrix.main(new String[0]));   // as the docs: 96 local[2]
        assertAsDocumented(out, "SparkBlockMatrix", "");
        assertThat(out).contains("spark: 6 tiles");
        assertThat(out).contains("BlockMatrix 96 × 96 in 3 × 3 blocks");
        assertThat(out).contains("row sums Θ·1: 96 values");
        assertThat(number(out, "max relative difference to local")).isLessThan(1e-12);
    }
}
