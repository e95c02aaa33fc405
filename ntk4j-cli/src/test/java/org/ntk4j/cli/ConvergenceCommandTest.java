package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.infinite.InfiniteLimit;
import org.ntk4j.io.JsonReport;
import org.ntk4j.tensor.DType;

class ConvergenceCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsTheTableAndExponentAndWritesTheReportAndPlot() throws Exception {
        Path json = dir.resolve("c.json");
        Path png = dir.resolve("c.png");
        String[] o = run(0, "convergence", "--model", "fcn(depth=1,out=2,act=erf)", "--widths", "32,512", "--seeds",
                "2", "--ensemble", "3", "--data", "synthetic:8,6", "--dtype", "f64", "--json", json.toString(),
                "--plot", png.toString());
        assertThat(o[0]).contains("| width | single eNTK | min | max | ensemble mean |").contains("wrote " + png);
        Matcher m = Pattern.compile("\\| 32 \\| ([0-9.e-]+) .*\\n\\| 512 \\| ([0-9.e-]+) ").matcher(o[0]);
        assertThat(m.find()).as(o[0]).isTrue();
        assertThat(Double.parseDouble(m.group(2))).isLessThan(Double.parseDouble(m.group(1)));
        String report = Files.readString(json, StandardCharsets.UTF_8);
        assertThat(report).contains("\"single_exponent\"").contains("\"width_512.ensemble_distance\"");
        assertThat(Files.size(png)).isGreaterThan(1000);
        Matcher e = Pattern.compile("single eNTK (-?[0-9.]+) \\(theory -0.5\\)").matcher(o[0]);
        assertThat(e.find()).isTrue();
        assertThat(Double.parseDouble(e.group(1))).isNegative();
    }

    /**
     * fcn(depth=0) and cnn(depth=0) have no layer of the width: every width is the same network, linear in its
     * parameters, so its eNTK is the limit itself (the distance is float64 round-off, far below 1e-12) and the
     * exponent 0. The line said "theory -0.5" beside it; it says why the theory is 0. approx's width study of the
     * pNTK's error (round-off for this model: its full eNTK is the trace times I_O) says the same.
     */
    @Test
    void aModelThatNoWidthChangesHasTheoryZero() {
        for (String[] modelAndData : new String[][] {{"fcn(depth=0,out=2)", "synthetic:6,5"},
            {"cnn(depth=0,out=2)", "synthetic:6,3,3,2"}}) {
            String model = modelAndData[0];
            String[] o = run(0, "convergence", "--model", model, "--widths", "4,64", "--seeds", "2", "--ensemble",
                    "2", "--data", modelAndData[1], "--dtype", "f64");
            Matcher m = Pattern.compile("\\| 64 \\| ([0-9.e-]+) ").matcher(o[0]);
            assertThat(m.find()).as(o[0]).isTrue();
            assertThat(Double.parseDouble(m.group(1))).isLessThan(1e-12);
            assertThat(o[0]).contains("single eNTK 0.000 (theory 0: no layer of " + model + " has the width, so "
                    + "every width is the same network), ensemble mean 0.000; ").doesNotContain("-0.5");
        }
        String[] approx = run(0, "approx", "--model", "fcn(depth=0,out=3)", "--data", "synthetic:10,5", "--n", "6",
                "--widths", "4,64", "--seeds", "1", "--dtype", "f64");
        assertThat(approx[0]).contains("fitted exponent of the pNTK error in width: 0.000 (theory: 0: no layer of "
                + "fcn(depth=0,out=3) has the width, so every width is the same network)");
        assertThat(run(0, "approx", "--model", "fcn(depth=1,out=3)", "--data", "synthetic:10,5", "--n", "6",
                "--widths", "4,64", "--seeds", "1", "--dtype", "f64")[0]).contains("(theory: -0.5)");
    }

    /**
     * With w_std=0 only the output bias has a gradient: the eNTK is σ_b² at every width, as is the limit, so the
     * distances are 0 and the fit NaN, beside "theory -0.5"; the line says the distances are round-off. Any real
     * width's distance (the test above) is far above 100 ε.
     */
    @Test
    void distancesThatAreRoundOffAtEveryWidthHaveNoTheory() throws Exception {
        String[] o = run(0, "convergence", "--model", "fcn(depth=1,out=2,w_std=0)", "--widths", "4,64", "--seeds",
                "1", "--ensemble", "1", "--data", "synthetic:6,5", "--dtype", "f64");
        assertThat(o[0]).contains("(theory none: the distances are round-off at every width (at most 100 ε of f64))")
                .doesNotContain("-0.5").contains("| 4 | 0.000 | 0.000 | 0.000 | 0.000 |");
        // distances of 0 cannot be drawn on log axes: the plot failed after the figures and before the report was
        // completed, so that no resume could ever complete it; the report is completed, then the plot refused
        Path json = dir.resolve("zero.json");
        Path png = dir.resolve("zero.png");
        String[] plotted = run(2, "convergence", "--model", "fcn(depth=1,out=2,w_std=0)", "--widths", "4,64",
                "--seeds", "1", "--ensemble", "1", "--data", "synthetic:6,5", "--dtype", "f64", "--report",
                json.toString(), "--plot", png.toString());
        assertThat(plotted[1]).isEqualTo("ntk4j: --plot " + png + ": not written: the distances are 0 at every "
                + "width, which log axes cannot show (the figures are in the table and " + json + ")\n");
        assertThat(png).doesNotExist();
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(true);
        // fcn(depth=0) in float64: round-off above 0, drawn (without the width^-1/2 line)
        run(0, "convergence", "--model", "fcn(depth=0,out=2)", "--widths", "4,64", "--seeds", "1", "--ensemble", "1",
                "--data", "synthetic:6,5", "--dtype", "f64", "--plot", png.toString());
        assertThat(Files.size(png)).isGreaterThan(1000);
        assertThat(ConvergenceCommand.roundOff(java.util.stream.DoubleStream.of(0, 2e-14), DType.F64)).isTrue();
        assertThat(ConvergenceCommand.roundOff(java.util.stream.DoubleStream.of(0, 3e-14), DType.F64)).isFalse();
        assertThat(ConvergenceCommand.roundOff(java.util.stream.DoubleStream.of(1.1e-5), DType.F32)).isTrue();
        assertThat(ConvergenceCommand.roundOff(java.util.stream.DoubleStream.of(1.3e-5), DType.F32)).isFalse();
    }

    /**
     * A cnn converges to its limit as its channels grow; flat data of s² columns is laid out as s×s images, as kernel
     * lays it out (the cnn was refused for having no limit before).
     */
    @Test
    void aCnnConvergesOverItsChannels() {
        String[] o = run(0, "convergence", "--model", "cnn(depth=1,out=2,pool=gap)", "--widths", "4,256", "--seeds",
                "2", "--ensemble", "2", "--data", "synthetic:6,16", "--dtype", "f64");
        Matcher m = Pattern.compile("\\| 4 \\| ([0-9.e-]+) .*\\n\\| 256 \\| ([0-9.e-]+) ").matcher(o[0]);
        assertThat(m.find()).as(o[0]).isTrue();
        // 64 times the channels: about 8 times closer
        assertThat(Double.parseDouble(m.group(2))).isLessThan(Double.parseDouble(m.group(1)) / 3);
    }

    @Test
    void otherModelsAreRefusedBeforeAnyWork() {
        String[] o = run(2, "convergence", "--model", "transformer(layers=1)", "--widths", "8,16");
        assertThat(o[1].trim()).isEqualTo("ntk4j: --model: convergence compares against the analytic infinite-width "
                + "NTK, which ntk4j has for a zoo " + InfiniteLimit.SUPPORTED + " only, not 'transformer'");
        String[] mish = run(2, "convergence", "--model", "fcn(depth=1,act=mish)", "--widths", "8,16");
        assertThat(mish[1].trim()).isEqualTo("ntk4j: fcn: option act must be one of relu, leaky_relu, erf, tanh, "
                + "sigmoid, gelu, softplus, sin, identity, abs, exp, gaussian, cos, silu, elu, got 'mish'");
        String[] s = run(2, "convergence", "--seeds", "5", "--ensemble", "4");
        assertThat(s[1]).contains("need 1 <= --seeds <= --ensemble");
    }

    /**
     * Each width's model releases its caches once measured: a run repeated in one program ({@code Main.run}) leaves
     * the live bytes where the run before left them (each run left its width models' traced constants open).
     */
    @Test
    void aRepeatedRunLeavesTheLiveBytesWhereTheyWere() {
        String[] args = {"convergence", "--data", "synthetic:6,5", "--ensemble", "2", "--seeds", "1", "--widths",
            "8,16"};
        run(0, args);
        long baseline = org.ntk4j.tensor.Tensor.liveBytes();
        run(0, args);
        assertThat(org.ntk4j.tensor.Tensor.liveBytes()).isEqualTo(baseline);
    }

    @Test
    void aWidthGivenTwiceIsRefusedAsStudyRefusesIt() {
        // 16,16 used to fit NaN exponents to a single width and exit 0
        Path json = dir.resolve("cv.json");
        String[] o = run(2, "convergence", "--data", "synthetic:6,5", "--ensemble", "2", "--seeds", "1", "--widths",
                "16,16", "--json", json.toString());
        assertThat(o[1].trim()).isEqualTo("ntk4j: --widths: width 16 is given twice");
        assertThat(o[0]).isEmpty();
        assertThat(json).doesNotExist();
        assertThat(run(2, "convergence", "--widths", "8,16,8")[1].trim())
                .isEqualTo("ntk4j: --widths: width 8 is given twice");
        assertThat(run(2, "convergence", "--widths", "8,0")[1].trim())
                .isEqualTo("ntk4j: --widths: expected positive widths, got 0");
    }

    /**
     * A model without a width (an ONNX file, a linearized fcn) was refused for having no width to vary, not for
     * having no analytic limit; inputs on which the limit is 0 (all zero, no biases) printed a table of NaN and
     * exited 0.
     */
    @Test
    void modelsWithoutALimitAndAZeroLimitAreRefusedBeforeAnyWork() throws Exception {
        Path model = OnnxFiles.linear(dir.resolve("linear.onnx"));
        String[] onnx = run(2, "convergence", "--model", model.toString(), "--widths", "8,16");
        assertThat(onnx[1].trim()).isEqualTo("ntk4j: --model: convergence compares against the analytic "
                + "infinite-width NTK, which ntk4j has for a zoo " + InfiniteLimit.SUPPORTED + " only, not an imported "
                + "ONNX model");
        String[] linearized = run(2, "convergence", "--model", "linearized(fcn(depth=1))", "--widths", "8,16");
        assertThat(linearized[1].trim()).endsWith(InfiniteLimit.SUPPORTED + " only, not 'linearized'");
        Path zeros = dir.resolve("zeros.csv");
        Files.writeString(zeros, "a,b,c\n0,0,0\n0,0,0\n0,0,0\n", StandardCharsets.UTF_8);
        Path json = dir.resolve("z.json");
        String[] zero = run(2, "convergence", "--model", "fcn(depth=1,b_std=0)", "--data", zeros.toString(),
                "--widths", "8,16", "--ensemble", "2", "--seeds", "1", "--json", json.toString());
        assertThat(zero[1].trim()).isEqualTo("ntk4j: convergence: the infinite-width NTK of fcn(depth=1,b_std=0,"
                + "width=8) is 0 on these inputs (all of them 0 and no biases, or w_std = b_std = 0): a distance "
                + "relative to it means nothing");
        assertThat(zero[0]).doesNotContain("NaN");
        assertThat(json).doesNotExist();
    }

    /** The settings of the resume tests: three widths, tiny ensembles, float64, inputs from a CSV file. */
    private String[] resumable(Path csv, Path json, String... more) {
        List<String> a = new ArrayList<>(List.of("convergence", "--model", "fcn(depth=1,out=2,act=erf)", "--widths",
                "16,64,256", "--seeds", "2", "--ensemble", "3", "--data", csv.toString(), "--dtype", "f64",
                "--report", json.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    /** {@code args} with the value after {@code option} replaced. */
    private static String[] with(String[] args, String option, String value) {
        String[] a = args.clone();
        a[List.of(a).indexOf(option) + 1] = value;
        return a;
    }

    private Path inputs() throws Exception {
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
        return csv;
    }

    /** Runs with the part hook stopping the run after {@code parts} widths, as a kill would; returns the calls. */
    private static List<Integer> runStoppedAfter(int parts, String... args) {
        List<Integer> calls = new ArrayList<>();
        String[] o = run(2, n -> {
            calls.add(n);
            if (n == parts) {
                throw new IllegalArgumentException("stopped by the test after " + n + " width(s)");
            }
        }, args);
        assertThat(o[1]).contains("stopped by the test");
        return calls;
    }

    private static void assertClose(double actual, double expected, String what) {
        assertThat(Math.abs(actual - expected)).as(what + ": %s against %s", actual, expected)
                .isLessThanOrEqualTo(1e-12 * Math.abs(expected));
    }

    /**
     * The report is rewritten after each width, so a run stopped after its first keeps that width's figures (a
     * valid report saying it is not complete, no plot yet); --resume measures only the other widths and ends with
     * the figures, exponents and plot of an uninterrupted run.
     */
    @Test
    void aStoppedRunKeepsItsFinishedWidthsAndResumeCompletesItAsAStraightRun() throws Exception {
        Path csv = inputs();
        Path straight = dir.resolve("straight.json");
        run(0, resumable(csv, straight));
        JsonReport whole = JsonReport.read(straight);
        assertThat(whole.get("complete")).isEqualTo(true);
        assertThat((int[]) whole.get("widths_done")).containsExactly(16, 64, 256);

        Path json = dir.resolve("c.json");
        Path png = dir.resolve("c.png");
        assertThat(runStoppedAfter(1, resumable(csv, json, "--plot", png.toString()))).containsExactly(1);
        JsonReport partial = JsonReport.read(json);
        assertThat(partial.get("complete")).isEqualTo(false);
        assertThat(partial.get("command")).isEqualTo("convergence");
        assertThat((int[]) partial.get("widths_done")).containsExactly(16);
        assertThat(partial.has("width_64.single_distance")).isFalse();
        assertThat(partial.has("single_exponent")).isFalse();
        assertThat(png).doesNotExist();
        for (String f : new String[] {"single_distance", "single_min", "single_max", "ensemble_distance"}) {
            assertClose((Double) partial.get("width_16." + f), (Double) whole.get("width_16." + f), f);
        }
        // the same command without --resume does not replace the stopped run's report, and says how to go on
        assertThat(run(2, resumable(csv, json))[1].trim()).isEqualTo("ntk4j: --report " + json + " is the partial "
                + "report of a stopped run: --resume continues it, --overwrite starts a new one");

        List<Integer> calls = new ArrayList<>();
        String[] o = run(0, calls::add, resumable(csv, json, "--plot", png.toString(), "--resume"));
        assertThat(calls).as("widths measured by the resumed run").containsExactly(1, 2);
        assertThat(o[0]).contains("resuming " + json + ": 1 of 3 widths done").contains("| 16 | ")
                .contains("| 256 | ").contains("wrote " + png);
        assertThat(Files.size(png)).isGreaterThan(1000);
        JsonReport resumed = JsonReport.read(json);
        assertThat(resumed.get("complete")).isEqualTo(true);
        assertThat((int[]) resumed.get("widths_done")).containsExactly(16, 64, 256);
        for (int w : new int[] {16, 64, 256}) {
            for (String f : new String[] {"single_distance", "single_min", "single_max", "ensemble_distance"}) {
                String key = "width_" + w + "." + f;
                assertClose((Double) resumed.get(key), (Double) whole.get(key), key);
            }
        }
        assertClose((Double) resumed.get("single_exponent"), (Double) whole.get("single_exponent"), "exponent");
        assertClose((Double) resumed.get("ensemble_exponent"), (Double) whole.get("ensemble_exponent"), "exponent");
        assertThat(run(2, resumable(csv, json, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --report "
                + json + " is complete (every width is done); there is nothing to resume (without --resume, "
                + "--overwrite runs it again)");
    }

    /**
     * A run killed after it drew its plot and before it completed its report (every width done: the plot is drawn
     * just before the report is completed, so that a run stopped before its plot stays resumable) is completed by
     * the same command with --resume, which measures nothing: the plot there is the one it draws, kept without
     * --overwrite (before: refused, "--plot ... exists; pass --overwrite", so the recipe of the docs did not
     * work). A file there that is not this run's plot is refused without --overwrite, in one line, and left as it
     * is, the report still partial; with --overwrite it is replaced.
     */
    @Test
    void aRunKilledAfterItsPlotIsCompletedByResumeWithoutOverwrite() throws Exception {
        Path csv = inputs();
        Path straightPng = dir.resolve("straight.png");
        run(0, resumable(csv, dir.resolve("straight.json"), "--plot", straightPng.toString()));
        byte[] straight = Files.readAllBytes(straightPng);
        Path json = dir.resolve("c.json");
        Path png = dir.resolve("c.png");
        assertThat(runStoppedAfter(3, resumable(csv, json, "--plot", png.toString()))).containsExactly(1, 2, 3);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(false);
        // a file that is not the run's plot: refused at the end of a resume that measured nothing, left as it is
        Files.write(png, new byte[] {1, 2, 3});
        List<Integer> calls = new ArrayList<>();
        String[] refused = run(2, calls::add, resumable(csv, json, "--plot", png.toString(), "--resume"));
        assertThat(calls).isEmpty();
        assertThat(refused[1].trim()).isEqualTo("ntk4j: --plot " + png + " exists and differs from the plot this "
                + "run draws (a plot drawn by another machine or JDK may differ in its fonts); pass --overwrite to "
                + "replace it");
        assertThat(Files.readAllBytes(png)).containsExactly(1, 2, 3);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(false);
        // the stopped run's own plot (the one an uninterrupted run draws) is kept
        Files.write(png, straight);
        String[] o = run(0, calls::add, resumable(csv, json, "--plot", png.toString(), "--resume"));
        assertThat(calls).isEmpty();
        assertThat(o[0]).contains("resuming " + json + ": 3 of 3 widths done")
                .contains("kept " + png + " (the stopped run's plot, the same as this run's)");
        assertThat(Files.readAllBytes(png)).isEqualTo(straight);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(true);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).noneMatch(f -> f.startsWith("."));
        }
    }

    /**
     * SIGTERM (or Ctrl-C) says, as a tiled kernel run does, what the report keeps and that --resume continues (before
     * 2026-12-07, late night: nothing); the resume says how many widths it kept. A run that ends says nothing of it.
     */
    @Test
    void anInterruptedRunSaysWhatItsReportKeeps() throws Exception {
        Path json = dir.resolve("c.json");
        String[] args = {"convergence", "--model", "fcn(depth=1,out=2,act=erf)", "--widths", "16,32,100000,200000,"
            + "400000,800000", "--seeds", "1", "--ensemble", "2", "--data", "synthetic:8,6", "--report",
            json.toString()};
        Process p = TiledRunTest.start(dir, List.of("-Xmx512m"), args);
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (p.isAlive() && !Files.exists(json) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(p.isAlive()).as("the child is still running (log: %s)", dir.resolve("child.log")).isTrue();
        p.destroy(); // SIGTERM on Linux
        assertThat(p.waitFor()).isEqualTo(143);
        List<String> said = Files.readAllLines(dir.resolve("child.log"), StandardCharsets.UTF_8).stream()
                .filter(l -> l.startsWith("ntk4j:")).toList();
        int kept = ((int[]) JsonReport.read(json).get("widths_done")).length;
        assertThat(kept).isBetween(1, 5);
        assertThat(said).containsExactly("ntk4j: interrupted; " + kept + " of 6 widths are in " + json + ": the "
                + "same command with --resume continues");
        // a run that ends (its exit runs the shutdown hooks) says nothing of an interruption
        String[] small = with(with(args, "--widths", "16,32"), "--report", dir.resolve("small.json").toString());
        p = TiledRunTest.start(dir, List.of("-Xmx512m"), small);
        assertThat(p.waitFor()).as(Files.readString(dir.resolve("child.log"))).isZero();
        assertThat(Files.readString(dir.resolve("child.log"))).contains("wrote " + dir.resolve("small.json"))
                .doesNotContain("interrupted");
    }

    /** A resume with a setting that changes the figures, other inputs, or no partial report is refused. */
    @Test
    void aResumeWithOtherSettingsOrWithoutAPartialReportIsRefused() throws Exception {
        Path csv = inputs();
        Path json = dir.resolve("c.json");
        runStoppedAfter(1, resumable(csv, json));
        String before = Files.readString(json, StandardCharsets.UTF_8);
        assertThat(run(2, with(resumable(csv, json, "--resume"), "--seeds", "1"))[1].trim())
                .isEqualTo("ntk4j: --resume: --seeds 1 differs from the partial report's run, which had 2; resume "
                        + "with the same --seeds (or start a new run)");
        assertThat(run(2, with(resumable(csv, json, "--resume"), "--widths", "16,64"))[1].trim())
                .startsWith("ntk4j: --resume: --widths 16,64 differs from the partial report's run, which had "
                        + "16,64,256;");
        assertThat(run(2, resumable(csv, json, "--resume", "--method", "vp"))[1].trim())
                .startsWith("ntk4j: --resume: --method vp differs from the partial report's run, which had auto;");
        assertThat(run(2, with(resumable(csv, json, "--resume"), "--dtype", "f32"))[1].trim())
                .startsWith("ntk4j: --resume: --dtype f32 differs");
        List<String> lines = new ArrayList<>(Files.readAllLines(csv));
        lines.set(1, "0.5,0.5,0.5,0.5,0.5"); // the first input changed under the same --data
        Files.write(csv, lines);
        assertThat(run(2, resumable(csv, json, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --data " + csv
                + ": the inputs differ from those of the partial report's run (a file changed since); start a new "
                + "run");
        assertThat(Files.readString(json, StandardCharsets.UTF_8)).as("a refused resume leaves the report")
                .isEqualTo(before);
        assertThat(run(2, "convergence", "--resume")[1].trim()).isEqualTo("ntk4j: --resume: give --report, the "
                + "partial report of the run to continue");
        Path missing = dir.resolve("none.json");
        assertThat(run(2, resumable(csv, missing, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --report "
                + missing + " does not exist; without --resume the command starts a new run there");
        Path other = dir.resolve("other.json");
        new JsonReport().put("kernel", "k.npy").put("trace", 1.5).write(other);
        assertThat(run(2, resumable(csv, other, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --report "
                + other + " is not a report of ntk4j convergence (it names no command: a report of another "
                + "command, or of a version before --resume)");
        new JsonReport().put("command", "study").put("complete", false).write(other);
        assertThat(run(2, resumable(csv, other, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --report "
                + other + " is not a report of ntk4j convergence (it is one of ntk4j study)");
    }
}
