package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.JsonReport;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code ntk4j study} over a PyTorch model's checkpoints: a tiny CNN trained by SGD in {@code study_checkpoints.py}
 * (Debian's /usr/bin/python3 with python3-torch), its epochs 0 to 2 written as state_dict .npz files under the ONNX
 * names beside one export, and as one .onnx export per epoch. The kernel velocity equals PyTorch's (its autograd
 * eNTK of those weights in float64), both routes give the same figures, resume and the refusals hold. CI sets
 * NTK4J_REQUIRE_TORCH=1: there a missing torch fails these tests.
 */
class StudyOnnxCommandTest {
    @TempDir
    static Path dir;

    @TempDir
    Path work;

    @BeforeAll
    static void trainAndExport() throws Exception {
        TorchScripts.run(dir, "study_checkpoints.py", "the study of a PyTorch model's checkpoints");
    }

    private static String npzCheckpoints() {
        return dir.resolve("npz").resolve("epoch-{epoch}.npz").toString();
    }

    private static String sample() {
        return dir.resolve("sample.npz").toString();
    }

    /** The study's arguments on the 12-example sample (8 for kernel regression's training part), float64. */
    private static String[] args(String... more) {
        List<String> a = new ArrayList<>(List.of("study", "--sample", sample(), "--n", "8", "--kinds", "pntk,trace"));
        a.addAll(Arrays.asList(more));
        return a.toArray(new String[0]);
    }

    /** A copy of the per-epoch exports in {@code work}/onnx, for tests that change them. */
    private Path onnxCopy() throws IOException {
        Path copy = Files.createDirectories(work.resolve("onnx"));
        for (int e = 0; e < 3; e++) {
            Files.copy(dir.resolve("onnx").resolve("epoch-" + e + ".onnx"), copy.resolve("epoch-" + e + ".onnx"));
        }
        return copy;
    }

    private static void assertVelocities(JsonReport report, double[] expected) {
        assertThat(report.get("epoch_0.kernel_velocity")).isEqualTo(0.0);
        for (int e = 1; e < 3; e++) {
            double v = (Double) report.get("epoch_" + e + ".kernel_velocity");
            assertThat(Math.abs(v - expected[e])).as("epoch %d: %s against PyTorch's %s", e, v, expected[e])
                    .isLessThanOrEqualTo(1e-10 * expected[e]);
        }
    }

    /**
     * The state_dict route ({@code --model net.onnx --checkpoints 'npz/epoch-{epoch}.npz'}) and the per-epoch export
     * route ({@code --checkpoints 'onnx/epoch-{epoch}.onnx'}) measure a kernel velocity of exactly 0 at epoch 0 and
     * PyTorch's ‖Θ_t − Θ_0‖_F/‖Θ_0‖_F after (autograd in float64, 1e-10), and the same figures throughout; one
     * column named by the model, JSON keys without a width; --freeze on the exports measures the conv layer's eNTK.
     */
    @Test
    void kernelVelocityOfBothRoutesIsPyTorchsAndTheirFiguresAgree() throws Exception {
        double[] velocity = CliRuns.values(dir.resolve("velocity.npy"));
        assertThat(velocity[1]).isGreaterThan(0.05); // the training moved the kernel
        Path npzJson = work.resolve("npz.json");
        Path plots = work.resolve("plots");
        String[] o = run(0, args("--model", dir.resolve("net.onnx").toString(), "--checkpoints", npzCheckpoints(),
                "--json", npzJson.toString(), "--plot-dir", plots.toString()));
        assertThat(o[0]).contains("8 kernel-regression training and 4 test inputs [1, 6, 6]")
                .contains("| epoch | net.onnx |").contains("| 0 | 0.000 |").contains("wrote 12 plots to " + plots);
        assertThat(o[1]).contains("epoch 2: pntk error ");
        JsonReport npz = JsonReport.read(npzJson);
        assertVelocities(npz, velocity);
        assertThat(npz.has("widths")).isFalse();
        assertThat((int[]) npz.get("epochs_done")).containsExactly(0, 1, 2);
        assertThat(npz.get("model").toString()).startsWith("onnx:").endsWith("net.onnx");
        assertThat(Files.size(plots.resolve("kernel_velocity.png"))).isGreaterThan(1000);

        Path onnxJson = work.resolve("onnx.json");
        String onnxPattern = dir.resolve("onnx").resolve("epoch-{epoch}.onnx").toString();
        o = run(0, args("--checkpoints", onnxPattern, "--json", onnxJson.toString()));
        assertThat(o[0]).contains("| epoch | epoch-{epoch}.onnx |");
        JsonReport onnx = JsonReport.read(onnxJson);
        assertVelocities(onnx, velocity);
        int figures = 0;
        for (String key : npz.keys()) {
            if (key.startsWith("epoch_") && !key.endsWith(".fingerprint")) {
                double a = (Double) npz.get(key);
                double b = (Double) onnx.get(key);
                assertThat(Math.abs(a - b)).as(key + ": %s against %s", a, b).isLessThanOrEqualTo(1e-12 * Math.abs(a));
                figures++;
            }
        }
        assertThat(figures).as("figures compared").isEqualTo(3 * 12);
        assertThat(onnx.keys().stream().filter(k -> k.startsWith("epoch_") && !k.endsWith(".fingerprint")).count())
                .isEqualTo(figures);

        // --freeze '^fc\.' on the exports: the eNTK with respect to the conv layer alone, at each epoch's weights
        Path frozen = work.resolve("frozen.json");
        run(0, args("--checkpoints", onnxPattern, "--freeze", "^fc\\.", "--json", frozen.toString()));
        assertVelocities(JsonReport.read(frozen), CliRuns.values(dir.resolve("velocity_conv.npy")));
    }

    /**
     * A CNN with a BatchNorm2d, trained (its running statistics updated) and exported in eval() with
     * TrainingMode.PRESERVE each epoch: the exports are one network whose running statistics differ, and the
     * velocity equals PyTorch's in eval(). Its state_dict as .npz checkpoints is refused, naming the running
     * statistic that the .npz route would leave at the model file's value; so are frozen weights in a .npz.
     */
    @Test
    void batchNormExportsCarryTheirRunningStatisticsAndTheNpzRouteRefusesThem() throws Exception {
        Path bn = dir.resolve("bn");
        Path json = work.resolve("bn.json");
        run(0, args("--checkpoints", bn.resolve("onnx").resolve("epoch-{epoch}.onnx").toString(), "--json",
                json.toString()));
        assertVelocities(JsonReport.read(json), CliRuns.values(dir.resolve("bn_velocity.npy")));

        String[] o = run(2, args("--model", bn.resolve("onnx").resolve("epoch-0.onnx").toString(), "--checkpoints",
                bn.resolve("npz").resolve("epoch-{epoch}.npz").toString()));
        assertThat(o[1].trim()).isEqualTo("ntk4j: --checkpoints: " + bn.resolve("npz").resolve("epoch-0.npz")
                + ": 'bn.running_mean' is a batch norm's running statistic, a constant of epoch-0.onnx that a .npz "
                + "checkpoint cannot change (every epoch would compute with epoch-0.onnx's); give one .onnx export "
                + "per epoch (--checkpoints 'ck/epoch-{epoch}.onnx'), each with its own (exported with "
                + "training=TrainingMode.PRESERVE)");
        o = run(2, args("--model", dir.resolve("net.onnx").toString(), "--checkpoints", npzCheckpoints(),
                "--freeze", "^fc\\."));
        assertThat(o[1].trim()).isEqualTo("ntk4j: --checkpoints: " + dir.resolve("npz").resolve("epoch-0.npz")
                + ": 'fc.weight' is not a parameter: --freeze or --params-only made it a constant, which keeps "
                + "net.onnx's value at every epoch; leave it out of the .npz where it did not train, or give one "
                + ".onnx export per epoch (--checkpoints 'ck/epoch-{epoch}.onnx'), each with its own");
    }

    /**
     * A run of the exports stopped after epoch 0 resumes to the straight run's figures; an export changed since,
     * and another --freeze, are refused.
     */
    @Test
    void aStoppedStudyOfExportsResumesAndRefusesAChangedFile() throws Exception {
        Path copy = onnxCopy();
        String pattern = copy.resolve("epoch-{epoch}.onnx").toString();
        Path straight = work.resolve("straight.json");
        run(0, args("--checkpoints", pattern, "--json", straight.toString()));
        Path json = work.resolve("s.json");
        assertThat(run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " checkpoint(s)");
        }, args("--checkpoints", pattern, "--json", json.toString()))[1]).contains("stopped by the test");
        JsonReport partial = JsonReport.read(json);
        assertThat((int[]) partial.get("epochs_done")).containsExactly(0);

        assertThat(run(2, args("--checkpoints", pattern, "--json", json.toString(), "--resume", "--freeze",
                "^fc\\."))[1].trim()).startsWith("ntk4j: --resume: --freeze/--params-only/--input-shape/--output "
                + "onnx:").contains("differs from the partial report's run");
        Path epoch0 = copy.resolve("epoch-0.onnx");
        byte[] original = Files.readAllBytes(epoch0);
        // the same network at other weights: accepted as a checkpoint, refused as the one the run measured
        Files.copy(copy.resolve("epoch-1.onnx"), epoch0, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(run(2, args("--checkpoints", pattern, "--json", json.toString(), "--resume"))[1].trim())
                .isEqualTo("ntk4j: --resume: --checkpoints: the checkpoint of epoch 0 (or the --sample inputs) "
                        + "differs from the one the partial report's run measured; start a new run");
        Files.write(epoch0, original);

        List<Integer> calls = new ArrayList<>();
        String[] o = run(0, calls::add, args("--checkpoints", pattern, "--json", json.toString(), "--resume"));
        assertThat(calls).as("checkpoints measured by the resumed run").containsExactly(1, 2);
        assertThat(o[0]).contains("resuming " + json + ": 1 of 3 checkpoints done");
        JsonReport whole = JsonReport.read(straight);
        JsonReport resumed = JsonReport.read(json);
        assertThat(resumed.keys()).isEqualTo(whole.keys());
        for (String key : whole.keys()) {
            if (key.startsWith("epoch_") && whole.get(key) instanceof Double expected) {
                double actual = (Double) resumed.get(key);
                assertThat(Math.abs(actual - expected)).as(key).isLessThanOrEqualTo(1e-12 * Math.abs(expected));
            } else if (!key.equals("seconds")) {
                assertThat(resumed.get(key)).as(key).isEqualTo(whole.get(key));
            }
        }

        // the state_dict route: its fingerprints hold --model's bytes, so another net.onnx is refused too
        Path net = work.resolve("net.onnx");
        Files.copy(dir.resolve("net.onnx"), net);
        Path npzJson = work.resolve("npz.json");
        String[] npzArgs = args("--model", net.toString(), "--checkpoints", npzCheckpoints(), "--json",
                npzJson.toString());
        run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " checkpoint(s)");
        }, npzArgs);
        Files.copy(dir.resolve("onnx").resolve("epoch-1.onnx"), net, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        List<String> resume = new ArrayList<>(List.of(npzArgs));
        resume.add("--resume");
        assertThat(run(2, resume.toArray(new String[0]))[1].trim()).isEqualTo("ntk4j: --resume: --checkpoints: the "
                + "checkpoint of epoch 0 (or the --sample inputs) differs from the one the partial report's run "
                + "measured; start a new run");
        Files.copy(dir.resolve("net.onnx"), net, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(run(0, resume.toArray(new String[0]))[0]).contains("resuming " + npzJson + ": 1 of 3 checkpoints "
                + "done");
    }

    /**
     * Each export's import (and the epoch-0 one kept through the run) releases its caches: a run repeated in one
     * program leaves the live bytes where the run before left them, by either route.
     */
    @Test
    void aRepeatedRunLeavesTheLiveBytesWhereTheyWere() {
        String[] exports = args("--checkpoints", dir.resolve("onnx").resolve("epoch-{epoch}.onnx").toString());
        String[] npz = args("--model", dir.resolve("net.onnx").toString(), "--checkpoints", npzCheckpoints());
        run(0, exports);
        run(0, npz);
        long baseline = Tensor.liveBytes();
        run(0, exports);
        run(0, npz);
        assertThat(Tensor.liveBytes()).isEqualTo(baseline);
    }

    /** Each refusal is one line naming the option (and the file), before any kernel. */
    @Test
    void refusals() throws Exception {
        String net = dir.resolve("net.onnx").toString();
        assertThat(ArgumentErrorsTest.oneLineError(args("--model", net, "--checkpoints", npzCheckpoints(),
                "--widths", "8"))).isEqualTo("ntk4j: --widths: varies a zoo model's width; an ONNX model has one "
                + "(leave --widths out, and {width} out of --checkpoints)");
        String withWidth = dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString();
        assertThat(ArgumentErrorsTest.oneLineError(args("--model", net, "--checkpoints", withWidth)))
                .isEqualTo("ntk4j: --checkpoints " + withWidth + ": has {width}, but an ONNX model has one width; "
                        + "give its files' path without {width}");
        Path copy = onnxCopy();
        String pattern = copy.resolve("epoch-{epoch}.onnx").toString();
        assertThat(ArgumentErrorsTest.oneLineError(args("--model", net, "--checkpoints", pattern)))
                .isEqualTo("ntk4j: --model " + net + ": the --checkpoints are .onnx files, each the network at its "
                        + "epoch (epoch 0's is the model); leave --model out");

        // a later export of another network, named with the difference, before any kernel
        Path epoch2 = copy.resolve("epoch-2.onnx");
        Files.copy(dir.resolve("tanh.onnx"), epoch2, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String[] o = run(2, args("--checkpoints", pattern));
        assertThat(o[1].trim()).startsWith("ntk4j: --checkpoints: " + epoch2 + ": not the network of "
                + copy.resolve("epoch-0.onnx") + " (epoch 0's): node ").contains("is Tanh here, Relu there")
                .doesNotContain("\n");
        assertThat(o[1]).doesNotContain("epoch 0:");
        Files.copy(dir.resolve("wide.onnx"), epoch2, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(run(2, args("--checkpoints", pattern))[1].trim()).isEqualTo("ntk4j: --checkpoints: " + epoch2
                + ": not the network of " + copy.resolve("epoch-0.onnx") + " (epoch 0's): parameter 'conv.weight' has "
                + "shape [4, 1, 3, 3] here, [3, 1, 3, 3] there; a study measures checkpoints of one network");
        // a damaged export
        Files.write(epoch2, Arrays.copyOf(Files.readAllBytes(copy.resolve("epoch-1.onnx")), 100));
        assertThat(run(2, args("--checkpoints", pattern))[1].trim()).startsWith("ntk4j: --checkpoints " + epoch2
                + ": not a valid ONNX file");

        // a state_dict of another network among the .npz checkpoints, before any kernel
        Path npz = Files.createDirectories(work.resolve("npz"));
        for (int e = 0; e < 3; e++) {
            Files.copy(dir.resolve("npz").resolve("epoch-" + e + ".npz"), npz.resolve("epoch-" + e + ".npz"));
        }
        Path bad = npz.resolve("epoch-2.npz");
        java.util.Map<String, Tensor> m = new java.util.LinkedHashMap<>(org.ntk4j.io.Npz.readTensors(
                npz.resolve("epoch-1.npz"), DType.F32));
        m.put("conv.weight", Tensor.zeros(DType.F32, 4, 1, 3, 3)).close();
        try (org.ntk4j.nn.Params p = new org.ntk4j.nn.Params(m)) {
            org.ntk4j.io.ParamsFile.save(p, bad);
        }
        o = run(2, args("--model", net, "--checkpoints", npz.resolve("epoch-{epoch}.npz").toString()));
        assertThat(o[1].trim()).startsWith("ntk4j: --checkpoints: " + bad + ": parameters: 'conv.weight' must have "
                + "shape [3, 1, 3, 3], has [4, 1, 3, 3]").doesNotContain("\n");
        assertThat(o[1]).doesNotContain("epoch 0:");
    }
}
