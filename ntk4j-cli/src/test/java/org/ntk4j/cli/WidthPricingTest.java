package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The width studies (approx --widths, study, convergence) check every width's kernels against --memory before any
 * work from the widths' shapes: nothing of a width's parameters is allocated to price it (each check allocated them
 * as zeros), and a width whose parameters this JVM cannot hold is refused in one line naming it.
 */
class WidthPricingTest {
    @TempDir
    Path dir;

    /**
     * A width whose parameters take a quarter of the JVM's limit for tensors (two width × width float32 weights) is
     * refused by a small --memory without being allocated: the tensors' peak stays far below its parameters' size.
     */
    @Test
    void aWideWidthIsPricedWithoutAllocatingItsParameters() throws Exception {
        long limit = org.bytedeco.javacpp.Pointer.maxBytes();
        int wide = (int) Math.sqrt(limit / 4.0 / 2 / DType.F32.bytes());
        long paramBytes = 2L * wide * wide * DType.F32.bytes();
        String widths = "8," + wide;
        Path csv = dir.resolve("x.csv");
        Files.writeString(csv, "a,b,c\n0.1,0.2,0.3\n0.4,-0.5,0.6\n-0.7,0.8,0.9\n0.2,0.1,-0.3\n",
                StandardCharsets.UTF_8);
        Path small = Files.createDirectories(dir.resolve("w8"));
        org.ntk4j.nn.Model net8 = org.ntk4j.nn.Zoo.parse("fcn(depth=3,out=10,width=8)");
        try (org.ntk4j.nn.Params p = net8.init(8, new int[] {28, 28, 1}, DType.F32)) {
            org.ntk4j.io.ParamsFile.save(p, small.resolve("epoch-0.npz"));
        }
        // the wide width's checkpoint is not read before the check refuses the run
        Files.write(Files.createDirectories(dir.resolve("w" + wide)).resolve("epoch-0.npz"), new byte[0]);
        List<String[]> commands = List.of(
                new String[] {"approx", "--model", "fcn(depth=3,out=10)", "--data", "synthetic:14,12", "--n", "10",
                    "--widths", widths, "--seeds", "1", "--memory", "64m"},
                new String[] {"convergence", "--model", "fcn(depth=3,out=3,act=erf)", "--widths", widths,
                    "--seeds", "1", "--ensemble", "2", "--data", csv.toString(), "--memory", "64m"},
                new String[] {"study", "--model", "fcn(depth=3,out=10)", "--widths", widths, "--checkpoints",
                    dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18",
                    "--kinds", "pntk", "--memory", "64m"});
        for (String[] args : commands) {
            long before = Tensor.liveBytes();
            Tensor.resetPeakBytes();
            String err = run(2, args)[1];
            assertThat(err).as(args[0]).startsWith("ntk4j: memory budget: ").endsWith("\n")
                    .doesNotContain("\n" + "\tat ");
            assertThat(err.strip()).as(args[0]).doesNotContain("\n");
            // the least budget it names holds the wide width's parameters (the check priced that width)
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:raise --memory to at least|the smallest "
                    + "needs) ([0-9.]+) ([KMG])iB\\b").matcher(err);
            assertThat(m.find()).as(err).isTrue();
            double least = Double.parseDouble(m.group(1)) * (1L << (10 * ("KMG".indexOf(m.group(2)) + 1)));
            assertThat(least).as(args[0]).isGreaterThan(paramBytes);
            assertThat(Tensor.peakBytes() - before).as("%s: bytes of tensors allocated before the refusal (the "
                    + "wide width's parameters: %d)", args[0], paramBytes).isLessThan(64L << 20);
        }
    }

    /** explain prices --tiled and projected:K in memory from the shapes too (it allocated the parameters as zeros). */
    @Test
    void explainPricesAWideModelWithoutAllocatingItsParameters() {
        long limit = org.bytedeco.javacpp.Pointer.maxBytes();
        int wide = (int) Math.sqrt(limit / 4.0 / 2 / DType.F32.bytes());
        String model = "fcn(depth=3,width=" + wide + ")";
        long before = Tensor.liveBytes();
        Tensor.resetPeakBytes();
        String tiled = run(2, "explain", "--model", model, "--input", "6", "--n", "4", "--tiled", "--memory",
                "64m")[1];
        assertThat(tiled).startsWith("ntk4j: memory budget: 64.0 MiB is too small for the trace kernel of 4 × 4 "
                + "examples of [6] (f32); the smallest tiles (4 examples, method sd) need ");
        String sketched = run(0, "explain", "--model", model, "--input", "6", "--n", "4", "--kind", "projected:2",
                "--memory", "64m")[0];
        assertThat(sketched).contains("kind projected:2 in memory (kernel without --out): memory budget: 64.0 MiB is "
                + "too small for the projected:2 kernel of 4 × 4 examples of [6] (f32) in memory");
        assertThat(Tensor.peakBytes() - before).as("bytes of tensors allocated (the parameters: %d)",
                2L * wide * wide * DType.F32.bytes()).isLessThan(64L << 20);
    }

    /** Runs the command line in a JVM of its own with these JVM options; returns its exit code and its one line. */
    private String[] child(List<String> jvm, String... args) throws Exception {
        Process p = TiledRunTest.start(dir, jvm, args);
        int code = p.waitFor();
        List<String> log = Files.readAllLines(dir.resolve("child.log"), StandardCharsets.UTF_8);
        assertThat(log).as("the child's output").hasSize(1);
        return new String[] {String.valueOf(code), log.get(0)};
    }

    /**
     * A width whose parameters exceed the JVM's limit for tensors although its hidden layers fit (the zoo's bound,
     * Zoo.parse, counts the hidden layers; the input's d × width weights come on top), or one whose parameter has
     * more elements than a tensor holds, is refused before any work in one line naming the width and the size;
     * pricing them failed in the allocation of zeros (an out-of-memory error, or "tile the computation").
     */
    @Test
    void aWidthWhoseParametersCannotBeHeldIsRefusedNamingIt() throws Exception {
        String[] tooMany = child(List.of("-Xmx256m", "-Dorg.bytedeco.javacpp.maxBytes=256m"), "convergence",
                "--model", "fcn(depth=1)", "--data", "synthetic:4,1000", "--widths", "8,100000", "--seeds", "1",
                "--ensemble", "2");
        // 1000 · 100000 + 100000 weights and biases of the hidden layer, 100000 · 10 + 10 of the readout
        assertThat(tooMany).containsExactly("2", "ntk4j: --widths 100000: model 'fcn(depth=1,width=100000)': its "
                + "101,100,010 parameters need 385.7 MiB in float32, more than the 256.0 MiB this JVM holds of tensors "
                + "(-Xmx, or -Dorg.bytedeco.javacpp.maxBytes; ./ntk4j takes them in NTK4J_JAVA_OPTS); use a smaller "
                + "model");
        String[] tooLarge = child(List.of("-Xmx256m", "-Dorg.bytedeco.javacpp.maxBytes=64g"), "convergence",
                "--model", "fcn(depth=3)", "--data", "synthetic:4,10", "--widths", "8,65536", "--seeds", "1",
                "--ensemble", "2");
        assertThat(tooLarge).containsExactly("2", "ntk4j: --widths 65536: model 'fcn(depth=3,width=65536)': "
                + "parameter '3_dense/w' of shape [65536, 65536] has more than 2^31-1 elements, more than one tensor "
                + "holds; computing in tiles splits the examples, not a parameter: use a smaller layer (a smaller "
                + "width, or fewer input features)");
    }
}
