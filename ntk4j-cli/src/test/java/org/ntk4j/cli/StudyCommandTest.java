package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class StudyCommandTest {
    private static final String MODEL = "fcn(depth=1,out=10)";
    private static final int[] PER = {28, 28, 1};

    @TempDir
    Path dir;

    /** Writes epoch 0 (the initialisation) and epoch 1 (perturbed) of a width under dir/w{width}/. */
    private void checkpoints(int width) throws Exception {
        Model net = Zoo.parse(Zoo.withWidth(MODEL, width));
        Path w = Files.createDirectories(dir.resolve("w" + width));
        try (Params p0 = net.init(width, PER, DType.F32)) {
            ParamsFile.save(p0, w.resolve("epoch-0.npz"));
            Map<String, Tensor> m = new LinkedHashMap<>();
            int k = 0;
            for (Map.Entry<String, Tensor> e : p0.tensors().entrySet()) {
                Tensor t = e.getValue().copy();
                try (Tensor noise = Tensor.randomNormal(DType.F32, 100 + k++, t.shape())) {
                    for (int i = 0; i < t.size(); i++) {
                        t.setFlat(i, t.getFlat(i) + 0.1 * noise.getFlat(i));
                    }
                }
                m.put(e.getKey(), t);
            }
            try (Params p1 = new Params(m)) {
                ParamsFile.save(p1, w.resolve("epoch-1.npz"));
            }
        }
    }

    /**
     * Each width's model (and the models made for its checkpoints' buffers) releases its caches once the width is
     * measured: a run repeated in one program ({@code Main.run}) leaves the live bytes where the run before left them
     * (each run left about 1 KB of traced constants open).
     */
    @Test
    void aRepeatedRunLeavesTheLiveBytesWhereTheyWere() throws Exception {
        checkpoints(8);
        checkpoints(32);
        String[] args = {"study", "--model", MODEL, "--widths", "8,32", "--checkpoints",
            dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18", "--kinds",
            "pntk"};
        run(0, args);
        long baseline = Tensor.liveBytes();
        run(0, args);
        assertThat(Tensor.liveBytes()).isEqualTo(baseline);
    }

    @Test
    void tablesJsonAndPlotsFromCheckpointFiles() throws Exception {
        checkpoints(8);
        checkpoints(32);
        Path json = dir.resolve("s.json");
        Path plots = dir.resolve("plots");
        String[] o = run(0, "study", "--model", MODEL, "--widths", "8,32", "--checkpoints",
                dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18",
                "--kinds", "pntk", "--json", json.toString(), "--plot-dir", plots.toString());
        assertThat(o[0]).contains("12 kernel-regression training and 6 test inputs [28, 28, 1]")
                .contains("kernel velocity ‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F of the full eNTK")
                .contains("pntk: relative Frobenius error of K ⊗ I_O against the eNTK")
                .contains("| epoch | width 8 | width 32 |").contains("| 0 | 0.000 | 0.000 |")
                .contains("wrote 7 plots to " + plots);
        String report = Files.readString(json, StandardCharsets.UTF_8);
        for (String key : new String[] {"\"widths\": [8, 32]", "\"epochs\": [0, 1]", "width_8.epoch_1.kernel_velocity",
            "width_32.epoch_0.pntk_relative_frobenius_error", "width_32.epoch_1.pntk_lambda_max_relative_error",
            "width_32.epoch_1.pntk_lambda_min_ratio", "width_32.epoch_1.pntk_condition_number_ratio",
            "width_8.epoch_1.pntk_test_accuracy", "width_8.epoch_1.full_test_accuracy"}) {
            assertThat(report).contains(key);
        }
        // at width 8 the full eNTK of 12 inputs × 10 outputs is singular to working precision (λ_min ≤ λ_max·120·ε):
        // its λ_min is round-off, so there is no λ_min or condition ratio to report (the plots: width 32's line)
        assertThat(report).doesNotContain("width_8.epoch_1.pntk_lambda_min_ratio")
                .doesNotContain("width_8.epoch_0.pntk_condition_number_ratio");
        for (String name : new String[] {"kernel_velocity", "full_test_accuracy", "pntk_relative_frobenius_error",
            "pntk_lambda_max_relative_error", "pntk_lambda_min_ratio", "pntk_condition_number_ratio",
            "pntk_test_accuracy"}) {
            byte[] png = Files.readAllBytes(plots.resolve(name + ".png"));
            assertThat(png.length).isGreaterThan(1000);
            assertThat(png[1]).isEqualTo((byte) 'P');
            assertThat(javax.imageio.ImageIO.read(plots.resolve(name + ".png").toFile())).isNotNull();
        }
        // a second run refuses to replace the outputs without --overwrite
        String[] again = run(2, "study", "--model", MODEL, "--widths", "8", "--checkpoints",
                dir.resolve("w{width}").resolve("epoch-*.npz").toString(), "--sample", "default:test:18",
                "--json", json.toString());
        assertThat(again[1].trim()).startsWith("ntk4j: --json " + json).contains("--overwrite");
    }

    /**
     * Every checkpoint is read before the first kernel: a file of another width among the later ones is refused
     * before any point is measured, not after the others' kernels.
     */
    @Test
    void aCheckpointOfAnotherWidthIsRefusedBeforeAnyKernel() throws Exception {
        checkpoints(8);
        checkpoints(16);
        Files.copy(dir.resolve("w8").resolve("epoch-1.npz"), dir.resolve("w16").resolve("epoch-2.npz"));
        String[] o = run(2, "study", "--model", MODEL, "--widths", "8,16", "--checkpoints",
                dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18",
                "--kinds", "pntk");
        assertThat(o[1].trim()).isEqualTo("ntk4j: --checkpoints: " + dir.resolve("w16").resolve("epoch-2.npz")
                + ": parameters: '1_dense/w' must have shape [784, 16], has [784, 8] (model "
                + "fcn(depth=1,out=10,width=16))");
        assertThat(o[0]).isEmpty();
    }

    /**
     * Checkpoints of a train run on standardised inputs (train's default) are measured on the sample as loaded,
     * with one warning saying so; those of a run with --standardize none, without.
     */
    @Test
    void checkpointsOfAStandardisedRunAreMeasuredWithAWarning() throws Exception {
        for (String standardize : new String[] {"global", "none"}) {
            Path ck = dir.resolve(standardize).resolve("w8");
            run(0, "train", "--model", "fcn(depth=1,width=8,out=10)", "--train", "default:train:32", "--test",
                    "none", "--epochs", "1", "--batch", "16", "--standardize", standardize, "--checkpoint-dir",
                    ck.toString(), "--checkpoint-epochs", "0,1", "--quiet");
            String[] o = run(0, "study", "--model", MODEL, "--widths", "8", "--checkpoints",
                    dir.resolve(standardize).resolve("w{width}").resolve("epoch-{epoch}.npz").toString(),
                    "--sample", "default:test:18", "--kinds", "pntk");
            List<String> warnings = o[1].lines().filter(l -> l.startsWith("ntk4j: warning")).toList();
            if (standardize.equals("none")) {
                assertThat(warnings).isEmpty();
            } else {
                assertThat(warnings).containsExactly("ntk4j: warning: --checkpoints: " + ck.resolve("epoch-0000.npz")
                        + " was trained on inputs standardised by --standardize global; the study computes its "
                        + "kernels on --sample default:test:18 as loaded (train with --standardize none for a "
                        + "study: docs/study.md)");
            }
            assertThat(o[0]).contains("| 1 | ");
        }
    }

    @Test
    void badInputIsOneLine() throws Exception {
        checkpoints(8);
        Files.delete(dir.resolve("w8").resolve("epoch-0.npz"));
        String pattern = dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString();
        String[] noZero = run(2, "study", "--model", MODEL, "--widths", "8", "--checkpoints", pattern,
                "--sample", "default:test:18");
        assertThat(noZero[1].trim()).startsWith("ntk4j: --checkpoints").contains("no epoch-0 checkpoint")
                .doesNotContain("\n");
        String[] noDir = run(2, "study", "--model", MODEL, "--widths", "16", "--checkpoints", pattern,
                "--sample", "default:test:18");
        assertThat(noDir[1].trim()).contains("no directory").contains("for width 16");
        // the model is checked before the checkpoint files are looked for, as before a study took ONNX models
        String[] badModel = run(2, "study", "--model", "nosuch(width=8)", "--widths", "16", "--checkpoints",
                pattern, "--sample", "default:test:18");
        assertThat(badModel[1].trim()).startsWith("ntk4j: unknown model 'nosuch'").doesNotContain("\n");
        String[] noMarker = run(2, "study", "--widths", "8", "--checkpoints", dir.resolve("x.npz").toString());
        assertThat(noMarker[1].trim()).contains("exactly one {epoch} or *");
        checkpoints(8);
        String[] wrongWidth = run(2, "study", "--model", "fcn(depth=1,out=10)", "--widths", "8", "--checkpoints",
                dir.resolve("w8").resolve("epoch-{epoch}.npz").toString().replace("w8", "w{width}"),
                "--sample", "synthetic:18,28,28");
        assertThat(wrongWidth[1].trim()).contains("has no labels");
        String[] badN = run(2, "study", "--model", MODEL, "--widths", "8", "--checkpoints", pattern,
                "--sample", "default:test:18", "--n", "18");
        assertThat(badN[1].trim()).contains("--n: the sample has 18 examples");
        String[] badReg = run(2, "study", "--model", MODEL, "--widths", "8", "--checkpoints", pattern,
                "--sample", "default:test:18", "--diag-reg", "-1");
        assertThat(badReg[1].trim()).isEqualTo("ntk4j: --diag-reg: expected a finite number >= 0, got -1.0");
        String[] twice = run(2, "study", "--model", MODEL, "--widths", "8,8", "--checkpoints", pattern,
                "--sample", "default:test:18");
        assertThat(twice[1].trim()).isEqualTo("ntk4j: --widths: width 8 is given twice");
    }

    /**
     * A pattern without {width} gave every width the same files, refused by the first width they do not fit
     * ("width 64 has no epoch-0 checkpoint" for a user who gave no --widths); it is refused as such, and one width
     * may still read it.
     */
    @Test
    void aPatternWithoutWidthIsForOneWidth() throws Exception {
        checkpoints(8);
        String pattern = dir.resolve("w8").resolve("epoch-{epoch}.npz").toString();
        assertThat(ArgumentErrorsTest.oneLineError("study", "--model", MODEL, "--checkpoints", pattern, "--sample",
                "default:test:18")).isEqualTo("ntk4j: --checkpoints " + pattern + ": no {width} in it, so the 5 "
                + "widths of --widths (64,128,256,512,1024, the default) would all read the same files; put {width} "
                + "where each width's path differs, or give one width");
        assertThat(ArgumentErrorsTest.oneLineError("study", "--model", MODEL, "--widths", "8,16", "--checkpoints",
                pattern, "--sample", "default:test:18")).contains("so the 2 widths of --widths (8,16) would all ");
        assertThat(run(0, "study", "--model", MODEL, "--widths", "8", "--checkpoints", pattern, "--sample",
                "default:test:18", "--kinds", "pntk")[0]).contains("| 1 | ");
    }

    private String[] studyArgs(Path json, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("study", "--model", MODEL, "--widths", "8,32",
                "--checkpoints", dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample",
                "default:test:18", "--kinds", "pntk", "--dtype", "f64", "--json", json.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    /**
     * The report is rewritten after each checkpoint, so a run stopped after width 8's epoch 0 keeps its figures;
     * --resume measures the three other checkpoints (computing width 8's epoch-0 kernel again for the velocity of
     * its epoch 1) and ends with the figures and plots of an uninterrupted run. A resume with another setting or
     * another checkpoint file is refused, naming it.
     */
    @Test
    void aStoppedStudyKeepsItsCheckpointsAndResumeCompletesItAsAStraightRun() throws Exception {
        checkpoints(8);
        checkpoints(32);
        Path straight = dir.resolve("straight.json");
        run(0, studyArgs(straight));
        JsonReport whole = JsonReport.read(straight);
        assertThat(whole.get("complete")).isEqualTo(true);

        Path json = dir.resolve("s.json");
        Path plots = dir.resolve("plots");
        assertThat(run(2, parts -> {
            throw new IllegalArgumentException("stopped by the test after " + parts + " checkpoint(s)");
        }, studyArgs(json, "--plot-dir", plots.toString()))[1]).contains("stopped by the test");
        JsonReport partial = JsonReport.read(json);
        assertThat(partial.get("complete")).isEqualTo(false);
        assertThat((int[]) partial.get("width_8.epochs_done")).containsExactly(0);
        assertThat(partial.has("width_32.epochs_done")).isFalse();
        assertThat(partial.has("width_8.epoch_1.kernel_velocity")).isFalse();
        assertThat(plots).doesNotExist();

        String before = Files.readString(json, StandardCharsets.UTF_8);
        assertThat(run(2, studyArgs(json, "--resume", "--diag-reg", "1e-3"))[1].trim()).isEqualTo("ntk4j: "
                + "--resume: --diag-reg 0.001 differs from the partial report's run, which had 1.0E-4; resume with "
                + "the same --diag-reg (or start a new run)");
        // a relative diag_reg is the report's default: no key; an absolute one of the same value is another run
        assertThat(partial.has("diag_reg_absolute")).isFalse();
        assertThat(run(2, studyArgs(json, "--resume", "--diag-reg-absolute"))[1].trim()).isEqualTo("ntk4j: "
                + "--resume: --diag-reg-absolute given but the partial report's run did not have it; resume with the "
                + "same --diag-reg-absolute (or start a new run)");
        String[] otherKinds = studyArgs(json, "--resume");
        otherKinds[List.of(otherKinds).indexOf("--kinds") + 1] = "pntk,trace";
        assertThat(run(2, otherKinds)[1].trim())
                .startsWith("ntk4j: --resume: --kinds pntk,trace differs from the partial report's run, which had "
                        + "pntk;");
        Path epoch0 = dir.resolve("w8").resolve("epoch-0.npz");
        byte[] original = Files.readAllBytes(epoch0);
        Files.copy(dir.resolve("w32").resolve("epoch-0.npz"), dir.resolve("w32-0.npz"));
        try (Params p = ParamsFile.load(epoch0, Zoo.parse(Zoo.withWidth(MODEL, 8)), PER, DType.F32)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            p.tensors().forEach((k, t) -> m.put(k, t.copy()));
            m.values().iterator().next().setFlat(0, 0.25);
            try (Params changed = new Params(m)) {
                ParamsFile.save(changed, epoch0);
            }
        }
        assertThat(run(2, studyArgs(json, "--resume"))[1].trim()).isEqualTo("ntk4j: --resume: --checkpoints: the "
                + "checkpoint of width 8, epoch 0 (or the --sample inputs) differs from the one the partial report's "
                + "run measured; start a new run");
        Files.write(epoch0, original);
        assertThat(Files.readString(json, StandardCharsets.UTF_8)).isEqualTo(before);

        List<Integer> calls = new java.util.ArrayList<>();
        String[] o = run(0, calls::add, studyArgs(json, "--resume", "--plot-dir", plots.toString()));
        assertThat(calls).as("checkpoints measured by the resumed run").containsExactly(1, 2, 3);
        assertThat(o[0]).contains("resuming " + json + ": 1 of 4 checkpoints done").contains("wrote 7 plots to "
                + plots);
        JsonReport resumed = JsonReport.read(json);
        assertThat(resumed.get("complete")).isEqualTo(true);
        assertThat(resumed.keys()).isEqualTo(whole.keys());
        int figures = 0;
        for (String key : whole.keys()) {
            if (key.startsWith("width_") && whole.get(key) instanceof Double expected) {
                double actual = (Double) resumed.get(key);
                assertThat(Math.abs(actual - expected)).as(key + ": %s against %s", actual, expected)
                        .isLessThanOrEqualTo(1e-12 * Math.abs(expected));
                figures++;
            } else if (!key.equals("seconds")) {
                assertThat(resumed.get(key)).as(key).isEqualTo(whole.get(key));
            }
        }
        assertThat(figures).as("figures compared").isGreaterThan(20);
        assertThat(Files.size(plots.resolve("kernel_velocity.png"))).isGreaterThan(1000);
    }

    /**
     * A study killed while it drew its plots (every checkpoint done: the plots are drawn just before the report is
     * completed) is completed by the same command with --resume, measuring nothing: the plots it had drawn, the same
     * bytes as this run's, are kept without --overwrite (before: refused, "exists; pass --overwrite"), the others
     * drawn, all of them an uninterrupted run's. A file there that is not the stopped run's plot is refused in one
     * line and left as it is, the report still partial.
     */
    @Test
    void aStudyKilledWhileDrawingItsPlotsIsCompletedByResume() throws Exception {
        checkpoints(8);
        checkpoints(32);
        Path straightPlots = dir.resolve("straight");
        run(0, studyArgs(dir.resolve("straight.json"), "--plot-dir", straightPlots.toString()));
        Path json = dir.resolve("s.json");
        Path plots = dir.resolve("plots");
        List<Integer> calls = new java.util.ArrayList<>();
        assertThat(run(2, parts -> {
            calls.add(parts);
            if (parts == 4) {
                throw new IllegalArgumentException("stopped by the test after " + parts + " checkpoint(s)");
            }
        }, studyArgs(json, "--plot-dir", plots.toString()))[1]).contains("stopped by the test");
        assertThat(calls).containsExactly(1, 2, 3, 4);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(false);
        // the killed run drew two plots; a third file there is another program's
        Files.createDirectories(plots);
        Files.copy(straightPlots.resolve("kernel_velocity.png"), plots.resolve("kernel_velocity.png"));
        Files.copy(straightPlots.resolve("pntk_test_accuracy.png"), plots.resolve("pntk_test_accuracy.png"));
        Path foreign = plots.resolve("full_test_accuracy.png");
        Files.write(foreign, new byte[] {1, 2, 3});
        calls.clear();
        String[] refused = run(2, calls::add, studyArgs(json, "--resume", "--plot-dir", plots.toString()));
        assertThat(calls).isEmpty();
        assertThat(refused[1].trim()).isEqualTo("ntk4j: --plot-dir " + foreign + " exists and differs from the plot "
                + "this run draws (a plot drawn by another machine or JDK may differ in its fonts); pass --overwrite "
                + "to replace it");
        assertThat(Files.readAllBytes(foreign)).containsExactly(1, 2, 3);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(false);
        Files.delete(foreign);
        String[] o = run(0, calls::add, studyArgs(json, "--resume", "--plot-dir", plots.toString()));
        assertThat(calls).isEmpty();
        assertThat(o[0]).contains("resuming " + json + ": 4 of 4 checkpoints done")
                .contains("kept " + plots.resolve("kernel_velocity.png") + " (the stopped run's plot")
                .contains("wrote 5 plots to " + plots);
        assertThat(JsonReport.read(json).get("complete")).isEqualTo(true);
        try (java.util.stream.Stream<Path> drawn = Files.list(straightPlots)) {
            List<Path> all = drawn.toList();
            assertThat(all).hasSize(7);
            for (Path f : all) {
                assertThat(Files.mismatch(f, plots.resolve(f.getFileName().toString()))).as("%s", f).isEqualTo(-1);
            }
        }
        try (java.util.stream.Stream<Path> left = Files.list(plots)) {
            assertThat(left.map(f -> f.getFileName().toString())).hasSize(7).noneMatch(f -> f.startsWith("."));
        }
    }
}
