package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import picocli.CommandLine;

/**
 * The benchmark commands' arguments ({@code ./ntk4j bench NAME ...}, {@link BenchMain}, {@link BenchCli}), run in
 * this JVM: bad input is one line and exit code 2 before any work (so these tests are quick: nothing is measured),
 * an existing output is refused without {@code --overwrite}, and {@code --help} answers anywhere, with the defaults
 * the code uses.
 */
class BenchCommandLineTest {
    /** What a command line gave: its exit code, stdout (help) and stderr (the error line). */
    private record Result(int code, String out, String err) {
    }

    private static Result bench(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = BenchMain.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    /** Exit code 2, nothing on stdout, and exactly this one line on stderr. */
    private static void assertRefused(Result r, String line) {
        assertThat(r.err()).isEqualTo("ntk4j: " + line + System.lineSeparator());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
    }

    // ------------------------------------------------------------------ one line, exit code 2, before any work

    /** A representative bad argument of each bench (and the audit's cases): the line names the option and value. */
    static Stream<Arguments> badArguments() {
        return Stream.of(
                Arguments.of("paper-fcn --reps 0", "--reps: expected a positive integer, got 0"),
                Arguments.of("paper-fcn --peer-warmup-seconds abc --with-peers", "--peer-warmup-seconds: expected a "
                        + "number, got 'abc'; see 'ntk4j bench paper-fcn --help'"),
                Arguments.of("paper-fcn --with-peers --peer-warmup-seconds -1", "--peer-warmup-seconds: expected a "
                        + "number >= 0, got -1"),
                Arguments.of("paper-fcn --no-sweeps --with-peers --no-install --peer-settings bogus", "--peer-settings"
                        + ": unknown setting 'bogus'; settings are fcn-example, cnn, cnn-wide"),
                Arguments.of("paper-fcn --no-sweeps", "--no-sweeps without --with-peers measures nothing; add "
                        + "--with-peers (the peers only) or drop --no-sweeps"),
                Arguments.of("paper-fcn --peer-timeout 300", "--peer-timeout applies only with --with-peers; add "
                        + "--with-peers or drop --peer-timeout"),
                Arguments.of("paper-fcn --no-install", "--no-install applies only with --with-peers; add "
                        + "--with-peers or drop --no-install"),
                Arguments.of("paper-fcn --peer-settings cnn", "--peer-settings applies only with --with-peers; add "
                        + "--with-peers or drop --peer-settings"),
                Arguments.of("paper-fcn --no-sweeps --with-peers --ns 4", "--ns does not apply with --no-sweeps (no "
                        + "sweep runs); drop one of them"),
                Arguments.of("paper-fcn --name ../../x", "--name: expected a file name stem without a path "
                        + "separator, got '../../x'; give the directory with --out"),
                Arguments.of("paper-fcn --max-flops 0", "--max-flops: expected a positive number, got 0"),
                Arguments.of("paper-fcn --rep 3", "unknown option --rep; did you mean --reps? see 'ntk4j bench "
                        + "paper-fcn --help'"),
                Arguments.of("methods --widths 0", "--widths: expected a positive integer, got 0"),
                Arguments.of("methods --budget-gib -3", "--budget-gib: expected a positive number, got -3"),
                Arguments.of("methods --no-main --no-sweep", "--no-main with --no-sweep measures nothing; drop one "
                        + "of them"),
                Arguments.of("methods --no-sweep --widths 64", "--widths does not apply with --no-sweep (the width "
                        + "sweep does not run); drop one of them"),
                Arguments.of("methods --name a/b", "--name: expected a file name stem without a path separator, got "
                        + "'a/b'; give the directory with --out"),
                Arguments.of("pntk fcn 0", "N: expected a positive integer, got 0"),
                Arguments.of("pntk fcn(depth=2,width=8,out=2) 4 3 0", "REPS: expected a positive integer, got 0"),
                Arguments.of("pntk fcn 8 8 2 extra", "unexpected argument 'extra'; see 'ntk4j bench pntk --help'"),
                Arguments.of("gemm --rounds x", "--rounds: expected an integer, got 'x'; see 'ntk4j bench gemm "
                        + "--help'"),
                Arguments.of("gemm --rounds 0", "--rounds: expected a positive integer, got 0"),
                Arguments.of("gemm --overwrite", "--overwrite applies only with --out; add --out or drop --overwrite"),
                Arguments.of("numpy --bogus", "unknown option --bogus; see 'ntk4j bench numpy --help'"),
                Arguments.of("numpy --warmup x", "--warmup: expected an integer, got 'x'; see 'ntk4j bench numpy "
                        + "--help'"),
                Arguments.of("numpy --rounds 0", "--rounds: expected a positive integer, got 0"),
                Arguments.of("train-mlp --epochs 0", "--epochs: expected a positive integer, got 0"),
                Arguments.of("train-mlp --bogus", "unknown option --bogus; see 'ntk4j bench train-mlp --help'"),
                Arguments.of("train-mlp --n 500 --data default:train:200", "--n does not apply with --data (--n "
                        + "sizes the default source, fashion-mnist:train:N); drop one of them"),
                Arguments.of("train-mlp --out results.txt", "--out results.txt: the output is a .md file; give a "
                        + "name ending in .md"),
                Arguments.of("resnet --size 0", "--size: expected a positive integer, got 0"),
                Arguments.of("resnet --settings resnet19:1:1", "--settings: expected ARCH "
                        + "resnet18|resnet34|resnet50|wide_resnet50_2, got 'resnet19' in 'resnet19:1:1'"),
                Arguments.of("resnet --settings fcn:2:2", "--settings: expected ARCH "
                        + "resnet18|resnet34|resnet50|wide_resnet50_2, got 'fcn' in 'fcn:2:2'"),
                Arguments.of("resnet --no-peers --size 32 --settings resnet18:1:1,bogus", "--settings: expected "
                        + "ARCH:O:N (e.g. resnet18:8:8), got 'bogus'"),
                Arguments.of("resnet --settings resnet18:0:1", "--settings: expected a positive integer O, got '0' "
                        + "in 'resnet18:0:1'"),
                Arguments.of("resnet --no-peers --timeout 60", "--timeout does not apply with --no-peers (ntk4j "
                        + "only, no PyTorch); drop one of them"),
                Arguments.of("plans", "--baseline CLASSPATH is required (the build to compare with; "
                        + "ntk4j-bench/run-plans.sh builds the previous commit's)"),
                Arguments.of("plans --baseline", "--baseline needs a value; see 'ntk4j bench plans --help'"),
                Arguments.of("plans --baseline /nonexistent/ntk4j", "--baseline: /nonexistent/ntk4j does not exist "
                        + "(an entry of the class path)"),
                Arguments.of("plans --rounds 2 --baseline", "--baseline needs a value; see 'ntk4j bench plans --help'"),
                Arguments.of("conv --bogus", "unknown option --bogus; see 'ntk4j bench conv --help'"),
                Arguments.of("conv --reps", "--reps needs a value; see 'ntk4j bench conv --help'"),
                Arguments.of("conv --reps x", "--reps: expected an integer, got 'x'; see 'ntk4j bench conv --help'"),
                Arguments.of("conv --reps 0", "--reps: expected a positive integer, got 0"),
                Arguments.of("conv --reps -1", "--reps: expected a positive integer, got -1"),
                // a list option given twice is refused as in the ntk4j commands (picocli joined the lists)
                Arguments.of("resnet --no-peers --settings resnet18:1:1 --settings resnet18:2:1", "--settings: given "
                        + "twice (--settings resnet18:1:1 and --settings resnet18:2:1); give one comma-separated list; "
                        + "see 'ntk4j bench resnet --help'"),
                Arguments.of("numpy --widths 8 --widths 16", "--widths: given twice (--widths 8 and --widths "
                        + "16); give one comma-separated list; see 'ntk4j bench numpy --help'"));
    }

    @ParameterizedTest
    @MethodSource("badArguments")
    void badArgumentsAreOneLineAndExitCode2(String commandLine, String line) {
        assertRefused(bench(commandLine.trim().split(" +")), line.trim());
    }

    @Test
    void aMissingOrUnknownBenchIsRefused() {
        Result none = bench();
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.out()).isEmpty();
        assertThat(none.err()).startsWith("usage: ntk4j bench NAME").contains("paper-fcn", "train-mlp", "conv");
        assertRefused(bench("paper_fcn"), "unknown benchmark 'paper_fcn'; benchmarks are paper-fcn, methods, pntk, "
                + "gemm, numpy, train-mlp, resnet, plans, conv (ntk4j bench --help)");
    }

    /** A model the bench cannot build is refused before the run, naming the argument where the model does not say. */
    @Test
    void pntkChecksItsModelFirst() {
        Result spec = bench("pntk", "fcn(depth=2");
        assertThat(spec.code()).isEqualTo(2);
        assertThat(spec.err()).startsWith("ntk4j: model spec 'fcn(depth=2'").hasLineCount(1);
        Result input = bench("pntk", "cnn(depth=1,channels=2,out=2)", "4", "10");
        assertThat(input.code()).isEqualTo(2);
        assertThat(input.err()).startsWith("ntk4j: SPEC cnn(depth=1,channels=2,out=2) on inputs of INPUT = 10 "
                + "features: ").hasLineCount(1);
    }

    /** Every ResNet setting is parsed (and its model built) before the run, the defaults included. */
    @Test
    void resnetParsesEverySettingFirst(@TempDir Path dir) throws IOException {
        ResNetBench.Options given = BenchCli.parse(new ResNetBench.Options(), "--no-peers", "--size", "32",
                "--settings", "resnet18:2:1,wide_resnet50_2:3:2", "--out", dir.toString());
        assertThat(given.settings).containsExactly(new ResNetBench.Setting("resnet18", 2, 1),
                new ResNetBench.Setting("wide_resnet50_2", 3, 2));
        assertThat(given.peers).isFalse();
        ResNetBench.Options defaults = BenchCli.parse(new ResNetBench.Options(), "--out", dir.toString());
        assertThat(defaults.settings).extracting(ResNetBench.Setting::label).containsExactly(
                "resnet18, O = 8, N = 8", "resnet18, O = 128, N = 1", "resnet18, O = 1000, N = 1",
                "resnet50, O = 8, N = 8");
    }

    /** A setting whose model cannot take the input size is refused before the run, the setting named. */
    @Test
    void resnetBuildsEverySettingsModelFirst(@TempDir Path dir) {
        assertThatThrownBy(() -> BenchCli.parse(new ResNetBench.Options(), "--no-peers", "--size", "100000",
                "--settings", "resnet18:2:1", "--out", dir.toString()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--settings resnet18:2:1 at --size 100000: max_pool: ");
    }

    @Test
    void plansNeedsABaselineHoldingNtk4jsClasses(@TempDir Path dir) throws IOException {
        assertRefused(bench("plans", "--baseline", dir.toString()), "--baseline: no entry of '" + dir + "' holds "
                + "ntk4j's classes (org/ntk4j/ntk/EmpiricalNtk.class); give the class path of a build, as "
                + "ntk4j-bench/run-plans.sh does");
        Path build = baseline(dir);
        assertRefused(bench("plans", "--baseline", build.toString(), "--only", "cnn,fcn"), "--only: expected "
                + "workloads of paper-sd-16, paper-sd-32, paper-sd-64, fcn-example, cnn, trace-sd, tiled-pntk, "
                + "per-example-fcn, per-example-cnn, got 'fcn'");
        assertThat(BenchCli.parse(new PlansBench.Options(), "--baseline", build.toString(), "--only", "cnn").only)
                .containsExactly("cnn");
    }

    /** A directory that looks like a build's classes to {@link PlansBench#checkBaseline}. */
    private static Path baseline(Path dir) throws IOException {
        Path classes = dir.resolve("classes");
        Path marker = classes.resolve(PlansBench.BASELINE_CLASS);
        Files.createDirectories(marker.getParent());
        Files.write(marker, new byte[0]);
        return classes;
    }

    @Test
    void gemmChecksJmhsOptionsBeforeJmhRuns() {
        Result r = bench("gemm", "-foo");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).startsWith("ntk4j: JMH options -foo: ").hasLineCount(1);
    }

    // ------------------------------------------------------------------ outputs

    /** Each bench that writes files refuses one that exists, naming it, and leaves it as it was. */
    @Test
    void existingOutputsAreRefusedWithoutOverwrite(@TempDir Path dir) throws IOException {
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {"paper_fcn.md", "paper-fcn", "--out", dir.toString()});
        cases.add(new String[] {"paper_fcn_quick_peers.csv", "paper-fcn", "--quick", "--out", dir.toString()});
        cases.add(new String[] {"ntk_methods_sweep.csv", "methods", "--out", dir.toString()});
        cases.add(new String[] {"mine_fits.csv", "methods", "--quick", "--out", dir.toString(), "--name", "mine"});
        cases.add(new String[] {"numpy_fcn.md", "numpy", "--out", dir.toString()});
        cases.add(new String[] {"resnet.md", "resnet", "--no-peers", "--out", dir.toString()});
        cases.add(new String[] {"gemm.md", "gemm", "--out", dir.resolve("gemm.md").toString()});
        cases.add(new String[] {"plans.txt", "plans", "--baseline", baseline(dir).toString(), "--out",
            dir.resolve("plans.txt").toString()});
        for (String[] c : cases) {
            Path existing = dir.resolve(c[0]);
            Files.writeString(existing, "committed record");
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            String option = c[1].equals("gemm") || c[1].equals("plans") ? "--out" : "--out/--name";
            assertRefused(bench(args), option + " " + existing + " exists; pass --overwrite to replace it");
            assertThat(existing).hasContent("committed record");
            Files.delete(existing);
        }
    }

    /**
     * A report's files are one set: a run that would write only some of them (the peers only) is refused while any
     * of the others exists, so that a committed report's .md is never replaced beside its older .csv and .png.
     */
    @Test
    void paperFcnRefusesEveryFileOfTheReportItsRunWouldLeaveInconsistent(@TempDir Path dir) throws IOException {
        Path plot = dir.resolve("paper_fcn_w.png");
        Files.write(plot, new byte[] {1});
        assertRefused(bench("paper-fcn", "--no-sweeps", "--with-peers", "--out", dir.toString()),
                "--out/--name " + plot + " exists; pass --overwrite to replace it");
        PaperFcnBench.Options o = BenchCli.parse(new PaperFcnBench.Options(), "--no-sweeps", "--with-peers", "--out",
                dir.toString(), "--overwrite");
        assertThat(o.sweeps).isFalse();
        assertThat(o.name).isEqualTo("paper_fcn");
        assertThat(BenchCli.parse(new PaperFcnBench.Options(), "--out", dir.toString(), "--name", "other").name)
                .isEqualTo("other");
    }

    @Test
    void anOutputDirectoryThatIsAFileIsRefused(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        assertRefused(bench("paper-fcn", "--out", file.toString()), "--out/--name " + file + " is not a directory");
        assertRefused(bench("methods", "--out", file.toString()), "--out/--name " + file + " is not a directory");
    }

    /** train-mlp writes nothing unless asked; --out appends to a Markdown file, created with a title. */
    @Test
    void trainMlpAppendsOnlyToTheFileItIsGiven(@TempDir Path dir) throws IOException {
        Path record = dir.resolve("TRAIN.md");
        TrainMlpBench.append(record, "### run 1\n");
        TrainMlpBench.append(record, "### run 2\n");
        String text = Files.readString(record, StandardCharsets.UTF_8);
        assertThat(text).startsWith("# Training throughput: ntk4j against PyTorch");
        assertThat(text.indexOf("### run 1")).isPositive().isLessThan(text.indexOf("### run 2"));
        assertRefused(bench("train-mlp", "--out", dir.resolve("missing").resolve("T.md").toString()), "--out "
                + dir.resolve("missing").resolve("T.md") + ": directory " + dir.resolve("missing")
                + " does not exist");
    }

    /**
     * A bench's files are written whole or not at all: on a full disk (injected) a CSV table and an appended
     * record keep their previous content, with no half-written file under the name. They used to be written in
     * place (Files.write, an APPEND), which a full disk leaves truncated.
     */
    @Test
    void aFailedWriteLeavesTheBenchFilesAsTheyWere(@TempDir Path dir) throws IOException {
        Path csv = dir.resolve("table.csv");
        Path record = dir.resolve("TRAIN.md");
        Files.writeString(csv, "old table\n", StandardCharsets.UTF_8);
        TrainMlpBench.append(record, "### run 1\n");
        String before = Files.readString(record, StandardCharsets.UTF_8);
        Csv table = new Csv("a", "b");
        for (int i = 0; i < 50; i++) {
            table.row(i, "a row long enough to pass the injected limit of 64 bytes");
        }
        String property = "ntk4j.test.disk-full";
        try {
            System.setProperty(property, "table.csv");
            assertThatThrownBy(() -> table.write(csv)).isInstanceOf(IOException.class)
                    .hasMessageContaining("no space left on device");
            System.setProperty(property, "TRAIN.md");
            assertThatThrownBy(() -> TrainMlpBench.append(record, "### run 2, " + "x".repeat(200) + "\n"))
                    .isInstanceOf(IOException.class).hasMessageContaining("no space left on device");
        } finally {
            System.clearProperty(property);
        }
        assertThat(Files.readString(csv, StandardCharsets.UTF_8)).isEqualTo("old table\n");
        assertThat(Files.readString(record, StandardCharsets.UTF_8)).isEqualTo(before);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder("table.csv", "TRAIN.md");
        }
    }

    /** Through the launcher, the reports go to its repository's ntk4j-bench/, whatever the current directory. */
    @Test
    void theDefaultDirectoryIsTheLaunchersRepository(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("ntk4j-bench"));
        String before = System.getProperty("ntk4j.launcher");
        System.setProperty("ntk4j.launcher", dir.resolve("ntk4j").toString());
        try {
            assertThat(BenchCli.defaultOutDir()).isEqualTo(dir.resolve("ntk4j-bench"));
            assertThat(new NtkMethodsBench.Options().out).isEqualTo(dir.resolve("ntk4j-bench"));
            assertThat(new ResNetBench.Options().out).isEqualTo(dir.resolve("target").resolve("bench-resnet"));
        } finally {
            if (before == null) {
                System.clearProperty("ntk4j.launcher");
            } else {
                System.setProperty("ntk4j.launcher", before);
            }
        }
    }

    // ------------------------------------------------------------------ help

    /** Every bench answers --help, and -h, anywhere on its command line, even after a bad argument. */
    @Test
    void everyBenchAnswersHelpAnywhere() {
        for (String name : BenchMain.names()) {
            for (String[] args : new String[][] {{name, "--help"}, {name, "--bogus", "-h"}, {name, "--reps", "0",
                "--help"}}) {
                Result r = bench(args);
                assertThat(r.code()).as(String.join(" ", args)).isZero();
                assertThat(r.err()).as(String.join(" ", args)).isEmpty();
                assertThat(r.out()).as(String.join(" ", args)).startsWith("Usage: ntk4j bench " + name)
                        .contains("--help");
            }
        }
        Result all = bench("--help");
        assertThat(all.code()).isZero();
        assertThat(all.out()).startsWith("usage: ntk4j bench NAME");
    }

    /** The audit's cases: pntk took --help for a model spec, train-mlp took it only first. */
    @ParameterizedTest
    @ValueSource(strings = {"pntk --help", "pntk fcn 8 --help", "train-mlp --epochs 2 --help",
        "paper-fcn --no-sweeps --with-peers --help", "resnet --settings bogus -h"})
    void helpIsNotTakenForAValue(String commandLine) {
        Result r = bench(commandLine.split(" "));
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("Usage: ntk4j bench " + commandLine.split(" ")[0]);
    }

    /**
     * Every "(default V" an option's help shows is the value the option starts with: the help cannot drift from the
     * code (paper-fcn's --max-flops said 5e11 while the code used 1.5e12). And each is a format picocli can render.
     */
    @Test
    void theHelpsDefaultsAreTheCodes() {
        int compared = 0;
        for (BenchCli.Bench bench : List.of(new PaperFcnBench.Options(), new NtkMethodsBench.Options(),
                new PntkSpeedBench.Options(), new GemmBench.Options(), new HandWrittenBench.Options(),
                new TrainMlpBench.Options(), new ResNetBench.Options(), new PlansBench.Options(),
                new ConvBench.Options())) {
            CommandLine cmd = new CommandLine(bench);
            List<CommandLine.Model.ArgSpec> args = new ArrayList<>(cmd.getCommandSpec().options());
            args.addAll(cmd.getCommandSpec().positionalParameters());
            for (String line : descriptions(bench.getClass())) {
                // picocli formats each description (a % not written %% only warns, and prints it raw)
                assertThatCode(() -> String.format(Locale.ROOT, line.replace("${DEFAULT-VALUE}", "0")))
                        .as(line).doesNotThrowAnyException();
            }
            for (CommandLine.Model.ArgSpec a : args) {
                String help = String.join(" ", a.description()).replace("${DEFAULT-VALUE}",
                        String.valueOf(a.defaultValue() != null ? a.defaultValue() : a.initialValue()));
                Matcher m = Pattern.compile("\\(default ([-+0-9.eE]+)[,;)]").matcher(help);
                if (!m.find()) {
                    continue;
                }
                Object value = a.defaultValue() != null ? a.defaultValue() : a.initialValue();
                if (value instanceof int[] || value instanceof String[]) {
                    continue; // a list: its help spells the default out
                }
                String name = a instanceof CommandLine.Model.OptionSpec o ? o.longestName() : a.paramLabel();
                assertThat(Double.parseDouble(value.toString())).as("%s %s", cmd.getCommandName(), name)
                        .isEqualTo(Double.parseDouble(m.group(1)));
                compared++;
            }
        }
        assertThat(compared).isGreaterThan(25);
    }

    /** The descriptions as written in the annotations of a bench's options and its mixins'. */
    private static List<String> descriptions(Class<?> options) {
        List<String> all = new ArrayList<>();
        for (Field f : options.getDeclaredFields()) {
            CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
            CommandLine.Parameters p = f.getAnnotation(CommandLine.Parameters.class);
            all.addAll(List.of(o != null ? o.description() : p != null ? p.description() : new String[0]));
            if (f.isAnnotationPresent(CommandLine.Mixin.class)) {
                all.addAll(descriptions(f.getType()));
            }
        }
        return all;
    }

    @Test
    void paperFcnsHelpShowsTheDefaultsAndSettingsItUses(@TempDir Path dir) throws IOException {
        String help = bench("paper-fcn", "--help").out().replaceAll("\\s+", " "); // lines joined where they wrap
        PaperFcnBench.Options plain = BenchCli.parse(new PaperFcnBench.Options(), "--out", dir.toString());
        PaperFcnBench.Options quick = BenchCli.parse(new PaperFcnBench.Options(), "--quick", "--out", dir.toString());
        assertThat(plain.maxFlops).isEqualTo(1.5e12);
        assertThat(help).contains("(default 1.5e12, --quick 6e10)", "(default 1, --quick 0.5)",
                "(default 5, --quick 3;");
        assertThat(quick.maxFlops).isEqualTo(6e10);
        assertThat(quick.minPointSeconds).isEqualTo(0.5);
        assertThat(quick.reps).isEqualTo(3);
        // every setting the help lists is one the peers know, cnn-wide included
        assertThat(help).contains("fcn-example, cnn, cnn-wide");
        for (String setting : PeersBench.Setting.NAMES.split(", ")) {
            assertThat(PeersBench.Setting.named(setting).name()).isEqualTo(setting);
        }
        PaperFcnBench.Options peers = BenchCli.parse(new PaperFcnBench.Options(), "--no-sweeps", "--with-peers",
                "--peer-settings", "cnn-wide,fcn-example", "--peer-warmup-seconds", "0", "--no-install", "--out",
                dir.toString());
        assertThat(peers.peers.settings).extracting(PeersBench.Setting::name).containsExactly("cnn-wide",
                "fcn-example");
        assertThat(peers.peers.install).isFalse();
        assertThat(peers.peers.warmupSeconds).isZero();
    }

    // ------------------------------------------------------------------ output formats

    /** pntk prints seconds with significant digits: a millisecond-scale kernel is not "0.000". */
    @Test
    void pntkPrintsSignificantDigits() {
        assertThat(PntkSpeedBench.row(Method.STRUCTURED_DERIVATIVES, 1.234e-4, 2.5e-5))
                .isEqualTo("| sd | 0.0001234 | 2.500e-05 | 4.9× |");
    }

    @Test
    void memoryIsShownInBinaryUnits() {
        assertThat(Machine.kibibytes("24683792 kB")).isEqualTo("23.5 GiB");
        assertThat(Machine.kibibytes(null)).isEqualTo("n/a");
        assertThat(Machine.kibibytes("lots")).isEqualTo("n/a");
    }

    /**
     * The methods report's note on {@code predicted_contraction_flops} holds for its main setting: with x2 = x1, JC's
     * reference contraction term exceeds all the FLOPs JC is predicted to do.
     */
    @Test
    void theContractionColumnOfJcExceedsItsFlopsAsTheReportSays() {
        CostModel cm = new CostModel(Zoo.parse("fcn(depth=3,width=2048,out=8)"), new int[] {3072}, DType.F32, 16, 0,
                new int[0], new int[0]);
        CostModel.Estimate jc = cm.estimate(Method.JACOBIAN_CONTRACTION);
        assertThat(jc.contractionFlops()).isGreaterThan(jc.flops());
        assertThat(NtkMethodsBench.CONTRACTION_COLUMN.toLowerCase(Locale.ROOT))
                .contains("predicted_contraction_flops", "gram", "can exceed");
    }

    /**
     * TiledPntkBench writes its own file in the folder it is given, never the command line's pntk.npy there, and
     * refuses one that exists before any work (no data is read: DATA.npy need not exist).
     */
    @Test
    void tiledPntkBenchRefusesAnExistingFileBeforeAnyWork(@TempDir Path dir) throws IOException {
        Path mine = Files.writeString(dir.resolve(TiledPntkBench.TILED_FILE), "mine");
        String[] args = {dir.resolve("absent.npy").toString(), "fcn(depth=1,width=8)", "1m", "1", dir.toString()};
        assertThatThrownBy(() -> TiledPntkBench.main(args)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("[out dir] " + mine + " exists; pass --overwrite to replace it");
        assertThat(Files.readString(mine)).isEqualTo("mine");
        Path nowhere = dir.resolve("nonexist");
        args[4] = nowhere.toString();
        assertThatThrownBy(() -> TiledPntkBench.main(args)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("[out dir] " + nowhere.resolve(TiledPntkBench.TILED_FILE) + ": directory " + nowhere
                        + " does not exist");
    }

    /** A bench whose work is refused by the memory budget, as a kernel call within a too-small budget is. */
    @CommandLine.Command(name = "budget")
    private static final class RefusedBudget extends RefusedDefaultBudget {
        @CommandLine.Option(names = "--budget-gib", description = "the bench's budget, as the benches name it")
        double budgetGiB = 1;

        RefusedBudget(CostModel cost) {
            super(cost);
        }
    }

    /**
     * The library's refusal of a budget advises computing the kernel in tiles with --out, an option of ntk4j kernel
     * that no bench has, and raising --memory, which a bench names --budget-gib: a bench's error line keeps the
     * refusal, drops the first advice and names its own option in the second.
     */
    @Test
    void aBudgetRefusalCarriesNoAdviceOfKernelsTiles() {
        CostModel cost = new CostModel(Zoo.parse("fcn(depth=1,width=8,out=3)"), new int[] {6}, DType.F32, 8, 0,
                new int[0], new int[0]);
        String refusal = org.assertj.core.api.Assertions.catchThrowable(() -> cost.choose(1)).getMessage();
        assertThat(refusal).contains(", or compute it in tiles with --out"); // as ntk4j kernel shows it
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = BenchCli.execute(new RefusedBudget(cost), new String[0], new PrintWriter(out), new PrintWriter(err));
        assertThat(code).isEqualTo(1);
        assertThat(refusal).contains("raise --memory");
        assertThat(err.toString()).isEqualTo("ntk4j: " + refusal.replace(", or compute it in tiles with --out", "")
                .replace("raise --memory", "raise --budget-gib") + System.lineSeparator())
                .doesNotContain("--out").doesNotContain("--memory").contains("no method fits in 1 B");
    }

    /** {@link RefusedBudget} without a budget option, as pntk, numpy, conv and the others are. */
    @CommandLine.Command(name = "unbudgeted")
    private static class RefusedDefaultBudget implements BenchCli.Bench {
        private final CostModel cost;

        RefusedDefaultBudget(CostModel cost) {
            this.cost = cost;
        }

        @Override
        public void check(CommandLine.ParseResult given) {
        }

        @Override
        public int run(String[] args) {
            cost.choose(1);
            return 0;
        }
    }

    /**
     * A bench without --budget-gib runs within the library's default budget: its refusal said "raise --memory", an
     * option it does not have; it now advises raising the JVM's off-heap limit, and says why.
     */
    @Test
    void aBenchWithoutABudgetOptionAdvisesTheJvmsLimit() {
        CostModel cost = new CostModel(Zoo.parse("fcn(depth=1,width=8,out=3)"), new int[] {6}, DType.F32, 8, 0,
                new int[0], new int[0]);
        String refusal = org.assertj.core.api.Assertions.catchThrowable(() -> cost.choose(1)).getMessage();
        StringWriter err = new StringWriter();
        int code = BenchCli.execute(new RefusedDefaultBudget(cost), new String[0], new PrintWriter(new StringWriter()),
                new PrintWriter(err));
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("ntk4j: " + refusal.replace(", or compute it in tiles with --out", "")
                .replace("raise --memory", "raise the JVM's off-heap limit with NTK4J_JAVA_OPTS=-Xmx<size> (this "
                        + "bench has no budget option: it runs within the default budget, 80% of that limit, which "
                        + "-Xmx sets unless -Dorg.bytedeco.javacpp.maxBytes does)") + System.lineSeparator())
                .doesNotContain("--memory").contains("no method fits in 1 B");
    }

    /**
     * Every form of the library's advice to raise --memory names the bench's own: an explicit method's least budget
     * (CostModel's refusal of jc within 1 KiB, "raise --memory to at least X") becomes --budget-gib's figure in GiB,
     * rounded up so that it fits, or the JVM limit of which the default budget (80%) fits; "no --memory given" and
     * the figures of hand-written lines too; a line naming no --memory is left as it is.
     */
    @Test
    void everyMemoryAdviceNamesTheBenchsOwnWayToRaiseTheBudget() {
        CostModel cost = new CostModel(Zoo.parse("fcn(depth=2,width=64,out=10)"), new int[] {32}, DType.F32, 64, 0,
                new int[0], new int[0]);
        long least = cost.leastBudget(Method.JACOBIAN_CONTRACTION);
        String refusal = org.assertj.core.api.Assertions.catchThrowable(
                () -> cost.planned(Method.JACOBIAN_CONTRACTION, 1024)).getMessage();
        String figure = CostModel.humanAtLeast(least);
        assertThat(refusal).contains("raise --memory to at least " + figure);
        String withOption = BenchCli.budgetAdvice(refusal, true);
        assertThat(withOption).doesNotContain("--memory").contains("raise --budget-gib to at least ");
        Matcher gib = Pattern.compile("raise --budget-gib to at least ([0-9.]+) \\(" + Pattern.quote(figure) + "\\)")
                .matcher(withOption);
        assertThat(gib.find()).as(withOption).isTrue();
        // the figure shown, in GiB rounded up at 3 digits: at least the figure's bytes, at most 1% above them
        String[] number = figure.split(" ");
        double figureBytes = Double.parseDouble(number[0]) * (1L << (10 * List.of("B", "KiB", "MiB", "GiB")
                .indexOf(number[1])));
        double given = Double.parseDouble(gib.group(1)) * (1L << 30);
        assertThat(figureBytes).isGreaterThanOrEqualTo(least);
        assertThat(given).isGreaterThanOrEqualTo(figureBytes).isLessThanOrEqualTo(figureBytes * 1.01);
        String without = BenchCli.budgetAdvice(refusal, false);
        assertThat(without).doesNotContain("--memory");
        Matcher jvm = Pattern.compile("raise the JVM's off-heap limit to at least ([0-9.]+) (KiB|MiB|GiB) with "
                + "NTK4J_JAVA_OPTS=-Xmx<size> \\(this bench has no budget option").matcher(without);
        assertThat(jvm.find()).as(without).isTrue();
        double limit = Double.parseDouble(jvm.group(1)) * (1L << (10 * (1 + List.of("KiB", "MiB", "GiB")
                .indexOf(jvm.group(2)))));
        assertThat(0.8 * limit).isGreaterThanOrEqualTo(least);
        assertThat(BenchCli.budgetAdvice("memory budget: 1.1 MiB is too small: raise --memory to at least 1.2 MiB",
                true)).isEqualTo("memory budget: 1.1 MiB is too small: raise --budget-gib to at least 0.00118 "
                + "(1.2 MiB)");
        assertThat(BenchCli.budgetAdvice("tiles need 512 B: raise --memory to at least 512 B", true))
                .isEqualTo("tiles need 512 B: raise --budget-gib to at least 0.000000477 (512 B)");
        assertThat(BenchCli.budgetAdvice("above this JVM's off-heap limit of 1.0 GiB (no --memory given): raise -Xmx",
                false)).isEqualTo("above this JVM's off-heap limit of 1.0 GiB (this bench has no budget option): "
                + "raise -Xmx");
        assertThat(BenchCli.budgetAdvice("limit of 1.0 GiB (no --memory given): raise -Xmx", true))
                .isEqualTo("limit of 1.0 GiB (no --budget-gib given): raise -Xmx");
        assertThat(BenchCli.budgetAdvice("method jc needs 2.0 GiB, more than the 1.0 GiB of --memory", false))
                .isEqualTo("method jc needs 2.0 GiB, more than the 1.0 GiB of the default budget (80% of the JVM's "
                        + "off-heap limit)");
        String plain = "--reps: expected a positive integer, got 0";
        assertThat(BenchCli.budgetAdvice(plain, true)).isSameAs(plain);
        // a peer's own option is another option, left as it is beside ntk4j's
        assertThat(BenchCli.budgetAdvice("peer exited 2: ntk.py: --memory-gib: expected a number; raise --memory",
                true)).isEqualTo("peer exited 2: ntk.py: --memory-gib: expected a number; raise --budget-gib");
    }
}
