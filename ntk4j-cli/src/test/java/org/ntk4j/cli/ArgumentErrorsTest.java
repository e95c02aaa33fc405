package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.Tensor;

/**
 * Issue 13, items 6 and 8: wrong command lines and inputs that crashed or printed the whole usage give exit code 2
 * and one line starting "ntk4j:", with the nearest valid option where there is one; nothing is silently ignored.
 */
class ArgumentErrorsTest {
    private static final String M = "fcn(depth=1,width=8,out=3)";

    @TempDir
    Path dir;

    /** Exit code 2 and exactly one line on stderr, starting "ntk4j: ", with no stack trace and nothing on stdout. */
    static String oneLineError(String... args) {
        String[] r = run(2, args);
        String err = r[1];
        assertThat(err).startsWith("ntk4j: ").doesNotContain("Exception").doesNotContain("\tat ")
                .doesNotContain("Usage:");
        assertThat(err.strip().lines().count()).as("one line: %s", err).isEqualTo(1);
        assertThat(r[0]).as("stdout").isEmpty();
        return err.strip();
    }

    @Test
    void noCommandListsTheCommandsOnStderrAndExitsTwo() {
        String[] r = run(2);
        assertThat(r[0]).as("stdout").isEmpty();
        assertThat(r[1]).contains("Usage: ntk4j").contains("kernel").contains("predict")
                .endsWith("ntk4j: no command given; see 'ntk4j --help'" + System.lineSeparator());
        String[] help = run(0, "--help");
        assertThat(help[0]).contains("Usage: ntk4j").contains("kernel");
        assertThat(help[1]).isEmpty();
    }

    @Test
    void unknownOptionNamesTheNearestOption() {
        assertThat(oneLineError("approx", "--widht", "3"))
                .isEqualTo("ntk4j: unknown option --widht; did you mean --widths? see 'ntk4j approx --help'");
        assertThat(oneLineError("kernel", "--modle", "x"))
                .isEqualTo("ntk4j: unknown option --modle; did you mean --model? see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--m"))
                .isEqualTo("ntk4j: unknown option --m; did you mean --model, --method or --memory? see 'ntk4j kernel "
                        + "--help'");
        assertThat(oneLineError("kernel", "--zzz")).isEqualTo("ntk4j: unknown option --zzz; see 'ntk4j kernel --help'");
    }

    /**
     * Every list option of every command given twice is refused as picocli refuses any other option given twice
     * ({@code study --kinds pntk,trace --kinds logit:0} concatenated the lists, {@code explain --input 3,32 --input
     * 32} into one shape); found by walking the commands, so that an option added later is covered.
     */
    @Test
    void everyListOptionGivenTwiceIsRefusedAsAnyOptionGivenTwice() {
        int lists = 0;
        for (java.util.Map.Entry<String, picocli.CommandLine> c : new picocli.CommandLine(new Main()).getSubcommands()
                .entrySet()) {
            for (picocli.CommandLine.Model.OptionSpec o : c.getValue().getCommandSpec().options()) {
                if (!o.isMultiValue() || o.splitRegex().isEmpty()) {
                    continue; // not a comma-separated list: --input-shape NAME:SHAPE is given once per input
                }
                lists++;
                String name = o.longestName();
                java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(c.getKey(), name, "1,2",
                        name, "3"));
                if (c.getKey().equals("study")) {
                    args.addAll(java.util.List.of("--checkpoints", "w{width}/e{epoch}.npz")); // required
                }
                assertThat(oneLineError(args.toArray(String[]::new))).isEqualTo("ntk4j: " + name + ": given twice ("
                        + name + " 1,2 and " + name + " 3); give one comma-separated list; see 'ntk4j " + c.getKey()
                        + " --help'");
            }
        }
        // approx and study --kinds and --widths, convergence --widths, explain --input, predict --t, train
        // --checkpoint-epochs
        assertThat(lists).isEqualTo(8);
        assertThat(oneLineError("kernel", "--seed", "1", "--seed", "2")).contains("--seed").contains("only once");
    }

    /** A value given twice within one list is refused by the commands that share approx's check. */
    @Test
    void aValueGivenTwiceInAListIsRefused() {
        assertThat(oneLineError("study", "--checkpoints", "w{width}/e{epoch}.npz", "--kinds", "pntk,trace,PNTK"))
                .isEqualTo("ntk4j: --kinds: kind pntk is given twice");
        assertThat(oneLineError("approx", "--kinds", "trace,pntk,trace")).isEqualTo("ntk4j: --kinds: kind trace is "
                + "given twice");
        assertThat(oneLineError("predict", "--t", "1,inf,1.0")).isEqualTo("ntk4j: --t: time 1.0 is given twice");
        assertThat(oneLineError("predict", "--t", "inf,0.5,∞")).isEqualTo("ntk4j: --t: time ∞ is given twice");
    }

    /**
     * --trace-axes and --diagonal-axes override the axis presets full, trace and diagonal, but a kind that projects the
     * logits or sketches the parameters is refused with them rather than dropped: before, `--kind pntk --trace-axes
     * 0` computed the plain kernel of f(x) traced over the examples, silently not the pNTK.
     */
    @Test
    void aProjectingKindWithExplicitAxesIsRefused() {
        for (String command : new String[] {"kernel", "explain"}) {
            String data = command.equals("kernel") ? "--data" : "--n";
            String value = command.equals("kernel") ? "synthetic:2,3" : "2";
            assertThat(oneLineError(command, "--model", M, data, value, "--kind", "pntk", "--trace-axes", "0"))
                    .isEqualTo("ntk4j: --kind pntk: does not combine with --trace-axes, which gives the plain kernel "
                            + "of f(x) with those axes (the axes override only full, trace and diagonal); drop one");
            assertThat(oneLineError(command, "--model", M, data, value, "--kind", "logit:1", "--diagonal-axes",
                    "0")).startsWith("ntk4j: --kind logit:1: does not combine with --diagonal-axes,");
            // --help says so too (it said "overrides --kind", as if every kind were dropped for the axes); picocli
            // wraps the description, so it is read with its line breaks and indentation collapsed
            String help = run(0, command, "--help")[0].replaceAll("\\s+", " ");
            assertThat(help).contains("--trace-axes=<traceAxes> Axes of f(x) to average over, comma-separated, "
                    + "negative from the end, or none (overrides --kind full, trace or diagonal; refused with the "
                    + "other kinds; with --diagonal-axes alone, nothing is traced).")
                    .contains("Axes of f(x) to keep the diagonal of, comma-separated, or none (overrides --kind "
                    + "full, trace or diagonal; refused with the other kinds).")
                    .doesNotContain("(overrides --kind)").doesNotContain("(overrides --kind;");
        }
    }

    @Test
    void unknownCommandAndExtraArgument() {
        assertThat(oneLineError("bogus")).isEqualTo("ntk4j: unknown command 'bogus'; see 'ntk4j --help'");
        assertThat(oneLineError("kernal"))
                .isEqualTo("ntk4j: unknown command 'kernal'; did you mean kernel? see 'ntk4j --help'");
        assertThat(oneLineError("kernel", "extra-positional"))
                .isEqualTo("ntk4j: unexpected argument 'extra-positional'; see 'ntk4j kernel --help'");
    }

    @Test
    void badOrMissingValues() {
        assertThat(oneLineError("kernel", "--seed", "abc"))
                .isEqualTo("ntk4j: --seed: expected an integer, got 'abc'; see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--threads", "abc"))
                .isEqualTo("ntk4j: --threads: expected an integer, got 'abc'; see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--model"))
                .isEqualTo("ntk4j: --model needs a value; see 'ntk4j kernel --help'");
        assertThat(oneLineError("explain", "--n", "99999999999"))
                .isEqualTo("ntk4j: --n: 99999999999 is too large (at most 2147483647); see 'ntk4j explain --help'");
        assertThat(oneLineError("approx", "--diag-reg", "x"))
                .isEqualTo("ntk4j: --diag-reg: expected a number, got 'x'; see 'ntk4j approx --help'");
        assertThat(oneLineError("kernel", "--trace-axes", "a"))
                .isEqualTo("ntk4j: --trace-axes: expected an axis number, got 'a' (axes are comma-separated "
                        + "numbers, negative from the end, or none); see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--diagonal-axes", "0,,1"))
                .isEqualTo("ntk4j: --diagonal-axes: expected an axis number, got '' (axes are comma-separated "
                        + "numbers, negative from the end, or none); see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--model", "fcn(width=99999999999)", "--data", "synthetic:2,3"))
                .isEqualTo("ntk4j: fcn: option width=99999999999 is too large (at most 2147483647)");
    }

    @Test
    void messagesNameTheOptionGiven() {
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:8,6", "--n", "4", "--diag-reg", "-1"))
                .isEqualTo("ntk4j: --diag-reg: expected a finite number >= 0, got -1.0");
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:8,6", "--n", "4", "--diag-reg", "NaN"))
                .isEqualTo("ntk4j: --diag-reg: expected a finite number >= 0, got NaN");
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:8,6", "--n", "4", "--widths", "16,16"))
                .isEqualTo("ntk4j: --widths: width 16 is given twice");
        assertThat(oneLineError("explain", "--n", "-1")).isEqualTo("ntk4j: --n: expected at least 1, got -1");
        assertThat(oneLineError("explain", "--n", "0", "--n2", "-3"))
                .isEqualTo("ntk4j: --n: expected at least 1, got 0");
        assertThat(oneLineError("explain", "--n2", "-3"))
                .isEqualTo("ntk4j: --n2: expected at least 1 (omitted: x2 = x1), got -3");
        assertThat(oneLineError("explain", "--n2", "0")) // 0 is not read as "omitted"
                .isEqualTo("ntk4j: --n2: expected at least 1 (omitted: x2 = x1), got 0");
        // picocli's "Unknown subcommand 'nonexist'." loses its full stop before "; see"
        assertThat(oneLineError("help", "nonexist")).startsWith("ntk4j: unknown subcommand 'nonexist'; see '")
                .doesNotContain(".;");
    }

    @Test
    void tileAndSeedsMustBePositive() {
        Path out = dir.resolve("t.npy");
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--tile", "0", "--out",
                out.toString())).isEqualTo("ntk4j: --tile must be at least 1, got 0; see 'ntk4j kernel --help'");
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--tile", "-16", "--out",
                out.toString())).isEqualTo("ntk4j: --tile must be at least 1, got -16; see 'ntk4j kernel --help'");
        assertThat(out).doesNotExist();
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:10,6", "--n", "6", "--widths", "4,8",
                "--seeds", "0")).isEqualTo("ntk4j: --seeds must be at least 1, got 0; see 'ntk4j approx --help'");
        // explain --tiled printed its whole cost table before it refused them (oneLineError: stdout empty)
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--n", "8", "--tiled", "--tile", "0"))
                .isEqualTo("ntk4j: --tile must be at least 1, got 0");
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--n", "8", "--tiled", "--threads", "0"))
                .isEqualTo("ntk4j: --threads: expected a positive number, got 0");
    }

    /** --resume of a binary file (a kernel given as the report) said only "ntk4j: Input length = 1". */
    @Test
    void resumeOfABinaryFileNamesIt() throws Exception {
        Path k = dir.resolve("k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2)) {
            Npy.write(k, t);
        }
        String line = "ntk4j: " + k + ": not a flat JSON report as ntk4j writes them (not UTF-8 text)";
        assertThat(oneLineError("convergence", "--model", M, "--data", "synthetic:6,5", "--widths", "4,8",
                "--report", k.toString(), "--resume")).isEqualTo(line);
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:12,5", "--n", "6", "--widths", "4,8",
                "--report", k.toString(), "--resume")).isEqualTo(line);
    }

    /**
     * train's --test of examples of another size than --train's was refused as "shape mismatch: data examples of
     * shape [7] ... cannot be read as [28, 28, 1]", or by the standardisation, naming neither option (with a
     * synthetic --train of 5 columns, the default --test was the one named nowhere); it is refused as predict
     * refuses it.
     */
    @Test
    void trainNamesATestSetOfAnotherSize() {
        String model = "fcn(depth=1,width=8,out=10)";
        String line = "ntk4j: --test: examples of shape [7] do not match the training examples [28, 28, 1]";
        assertThat(oneLineError("train", "--model", model, "--epochs", "1", "--train", "default:train:20", "--test",
                "synthetic:5,7")).isEqualTo(line);
        assertThat(oneLineError("train", "--model", model, "--epochs", "1", "--train", "default:train:20", "--test",
                "synthetic:5,7", "--standardize", "per-feature")).isEqualTo(line);
        assertThat(oneLineError("predict", "--model", model, "--train", "default:train:20", "--test",
                "synthetic:5,7")).isEqualTo(line);
    }

    @Test
    void optionsThatDoNotApplyAreRefused() throws Exception {
        Path k = dir.resolve("k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2)) {
            Npy.write(k, t);
        }
        assertThat(oneLineError("spectrum", k.toString(), "--model", M, "--kind", "full"))
                .isEqualTo("ntk4j: --model: applies only when spectrum computes the kernel (no K.npy); " + k
                        + " is read as it is");
        for (String option : SpectrumCommand.COMPUTE_OPTIONS) {
            String value = option.equals("--seed") ? "1" : "x";
            assertThat(oneLineError("spectrum", k.toString(), option, value)).startsWith("ntk4j: " + option + ": ");
        }
        assertThat(oneLineError("approx", "--model", M, "--data", "synthetic:10,6", "--n", "6", "--seeds", "2"))
                .isEqualTo("ntk4j: --seeds: applies only to the width study, which --widths asks for");
        // the width study solves no regression: its regulariser was ignored silently
        for (String[] reg : new String[][] {{"--diag-reg", "1e-2"}, {"--diag-reg-absolute"}}) {
            String[] args = {"approx", "--model", M, "--data", "synthetic:12,5", "--n", "6", "--widths", "4,8"};
            String[] all = java.util.Arrays.copyOf(args, args.length + reg.length);
            System.arraycopy(reg, 0, all, args.length, reg.length);
            assertThat(oneLineError(all)).isEqualTo("ntk4j: " + reg[0] + ": regularises the kernel regressions of "
                    + "one comparison; the width study (--widths) solves none");
        }
    }

    @Test
    void everySubcommandPrintsTheVersion() {
        String version = run(0, "--version")[0];
        assertThat(version).startsWith("ntk4j ");
        for (String command : new String[] {"kernel", "explain", "approx", "predict", "spectrum", "models"}) {
            assertThat(run(0, command, "--version")[0]).as(command).isEqualTo(version);
        }
    }

    @Test
    void zeroSizeAxisIsRefusedForEveryCommand() throws Exception {
        Path zero = dir.resolve("zerofeat.npy");
        try (Tensor t = Tensor.of(new double[0], 4, 0)) {
            Npy.write(zero, t);
        }
        String line = " '" + zero + "': shape [4, 0] has an axis of size 0 (axis 1); every example needs at least "
                + "one feature";
        assertThat(oneLineError("kernel", "--model", M, "--data", zero.toString())).isEqualTo("ntk4j: --data" + line);
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:4,6", "--x2", zero.toString()))
                .isEqualTo("ntk4j: --x2" + line);
        assertThat(oneLineError("approx", "--model", M, "--data", zero.toString(), "--n", "2"))
                .isEqualTo("ntk4j: --data" + line);
        assertThat(oneLineError("spectrum", "--model", M, "--data", zero.toString()))
                .isEqualTo("ntk4j: --data" + line);
        assertThat(oneLineError("predict", "--model", M, "--train", zero.toString()))
                .isEqualTo("ntk4j: --train" + line);
        assertThat(oneLineError("explain", "--model", M, "--n", "4", "--input", "0"))
                .isEqualTo("ntk4j: --input: an example of shape [0] has an axis of size 0; every axis needs at "
                        + "least 1 element");
        assertThat(oneLineError("explain", "--model", M, "--n", "4", "--input", "3,0"))
                .startsWith("ntk4j: --input: an example of shape [3, 0] has an axis of size 0");
        Path empty = dir.resolve("empty_k.npy");
        try (Tensor t = Tensor.of(new double[0], 0, 0)) {
            Npy.write(empty, t);
        }
        assertThat(oneLineError("spectrum", empty.toString()))
                .isEqualTo("ntk4j: " + empty + ": an empty kernel [0, 0]");
    }

    @Test
    void probesThatWouldNotFitAreRefusedBeforeAllocating() {
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--kind", "probes:99999999",
                "--memory", "1g")).isEqualTo("ntk4j: --kind probes:99999999: R = 99999999 probes of 3 outputs need "
                + "11.2 GiB for the probe matrix, above the memory budget of 1.0 GiB (--memory)");
        assertThat(oneLineError("explain", "--model", M, "--input", "6", "--kind", "probes:99999999",
                "--memory", "1g")).startsWith("ntk4j: --kind probes:99999999: R = 99999999 probes");
        assertThat(oneLineError("predict", "--model", M, "--train", "synthetic:8,6", "--test", "synthetic:4,6",
                "--kind", "probes:99999999", "--memory", "1g")).startsWith("ntk4j: --kind probes:99999999: R = ");
        // a modest R still runs
        assertThat(run(0, "kernel", "--model", M, "--data", "synthetic:8,6", "--kind", "probes:16")[0])
                .contains("kernel [8, 8]");
    }

    @Test
    void memoryBudgetAboveTheOffHeapLimitIsRefused() {
        String limit = org.ntk4j.ntk.CostModel.human(org.bytedeco.javacpp.Pointer.maxBytes());
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:8,6", "--memory", "1e30"))
                .isEqualTo("ntk4j: --memory 1e30: above this JVM's off-heap limit of " + limit + " (-Xmx, or "
                        + "-Dorg.bytedeco.javacpp.maxBytes; set them with NTK4J_JAVA_OPTS)");
        long above = org.bytedeco.javacpp.Pointer.maxBytes() / 1024 + 1;
        assertThat(oneLineError("predict", "--memory", above + "k")).startsWith("ntk4j: --memory " + above
                + "k: above this JVM's off-heap limit of " + limit);
        assertThat(oneLineError("explain", "--memory", "1e30")).startsWith("ntk4j: --memory 1e30: above");
        assertThat(KernelOptions.memoryBudget("1m")).isEqualTo(1L << 20);
    }

    @Test
    void dataSmallerPoints() throws Exception {
        Path good = dir.resolve("good.npy");
        try (Tensor t = Tensor.randomNormal(org.ntk4j.tensor.DType.F32, 1, 8, 6)) {
            Npy.write(good, t);
        }
        assertThat(oneLineError("kernel", "--model", M, "--data", good + ":100"))
                .isEqualTo("ntk4j: --data '" + good + ":100': asks for the first 100 examples, but the file "
                        + "has 8");
        assertThat(run(0, "kernel", "--model", M, "--data", good + ":8")[0]).contains("x1 [8, 6]");
        Path rank1 = dir.resolve("rank1.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3}, 3)) {
            Npy.write(rank1, t);
        }
        assertThat(oneLineError("kernel", "--model", M, "--data", rank1.toString()))
                .isEqualTo("ntk4j: --data '" + rank1 + "': shape [3] has one axis, so it is not clear what an "
                        + "example is; save rows of features [N, D]: x.reshape(-1, 1) for 3 one-feature examples, "
                        + "x.reshape(1, -1) for one example of 3 features");
        assertThat(oneLineError("kernel", "--model", M, "--data", "synthetic:2,6", "--params-in", good.toString()))
                .isEqualTo("ntk4j: --params-in: " + good + ": a .npy file (one array); parameters are an .npz "
                        + "archive of named arrays, as 'ntk4j kernel --params-out' writes");
    }

    @Test
    void constantDataWarnsWhenStandardisedToZeros() throws Exception {
        Path constant = dir.resolve("const.npy");
        try (Tensor t = Tensor.of(new double[] {1, 1, 1, 1, 1, 1}, 3, 2)) {
            Npy.write(constant, t);
        }
        String[] r = run(0, "kernel", "--model", M, "--data", constant.toString(), "--standardize", "global");
        assertThat(r[1]).isEqualTo("ntk4j: warning: --data " + constant + " is constant, so --standardize global "
                + "makes all its inputs 0" + System.lineSeparator());
        assertThat(r[0]).contains("kernel [3, 3]");
        assertThat(run(0, "kernel", "--model", M, "--data", constant.toString(), "--standardize", "per-feature")[1])
                .contains("is constant in every feature, so --standardize per-feature makes all its inputs 0");
        assertThat(run(0, "kernel", "--model", M, "--data", "synthetic:3,2", "--standardize", "global")[1]).isEmpty();
        assertThat(run(0, "kernel", "--model", M, "--data", constant.toString())[1]).isEmpty();
    }

    @Test
    void spectrumNamesTheFileWithANonFiniteEntry() throws Exception {
        Path k = dir.resolve("nan_k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 0, 1, Double.NaN, 1, 0, 1, 2}, 3, 3)) {
            Npy.write(k, t);
        }
        assertThat(oneLineError("spectrum", k.toString()))
                .isEqualTo("ntk4j: " + k + ": contains NaN at [1, 1]; a spectrum needs a finite kernel");
        assertThat(Files.exists(k)).isTrue();
    }

    /** np.full((1000, 3), 0.1) in float64: constant, though its two-pass σ is 1e-17, not 0. */
    @Test
    void constantFloat64DataIsFoundConstant() throws Exception {
        double[] values = new double[1000 * 3];
        java.util.Arrays.fill(values, 0.1);
        Path constant = dir.resolve("point-one.npy");
        try (Tensor t = Tensor.of(values, 1000, 3)) {
            Npy.write(constant, t);
        }
        String[] r = run(0, "kernel", "--model", M, "--data", constant + ":20", "--dtype", "f64", "--standardize",
                "global");
        assertThat(r[1]).isEqualTo("ntk4j: warning: --data " + constant + ":20 is constant, so --standardize global "
                + "makes all its inputs 0" + System.lineSeparator());
        assertThat(r[0]).contains("kernel [20, 20]");
    }
}
