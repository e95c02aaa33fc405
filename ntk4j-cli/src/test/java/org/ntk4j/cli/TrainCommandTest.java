package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Checkpoints;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Npz;
import org.ntk4j.io.NpyArray;
import org.ntk4j.io.NpyDType;

/** {@code ntk4j train}: accuracy on the embedded data, SIGKILL and --resume, outputs, refused options. */
class TrainCommandTest {
    private static final String[] RUN = {"train", "--model", "fcn(depth=2,width=256)", "--train", "default:train",
        "--test", "default:test:500", "--epochs", "8", "--batch", "32", "--optimizer", "sgd", "--lr", "0.5",
        "--momentum", "0.9", "--weight-decay", "1e-4", "--schedule", "cosine", "--seed", "3", "--quiet"};

    @Test
    void oneEpochOnTheEmbeddedDataLearns(@TempDir Path dir) throws Exception {
        String out = CliRuns.run(0, "train", "--train", "default:train", "--test", "default:test", "--epochs", "1",
                "--optimizer", "adam", "--lr", "1e-2", "--quiet", "--log", dir.resolve("log.json").toString(),
                "--plot", dir.resolve("c.png").toString(), "--checkpoint-dir", dir.resolve("ck").toString(),
                "--checkpoint-every-epoch")[0];
        String last = out.lines().filter(l -> l.startsWith("epoch 1:")).findFirst().orElseThrow();
        double acc = Double.parseDouble(last.replaceAll(".*test accuracy ([0-9.]+)%.*", "$1"));
        assertThat(acc).isGreaterThan(72);
        assertThat(Files.readString(dir.resolve("log.json"))).contains("\"epoch_1.test_accuracy\"");
        assertThat(dir.resolve("c.png")).exists();
        // the checkpoint is a parameter file that predict reads
        String p = CliRuns.run(0, "predict", "--model", "fcn(depth=2,width=512)", "--train", "default:train:200",
                "--test", "default:test:100", "--params-in", dir.resolve("ck/epoch-0001.npz").toString())[0];
        assertThat(p).contains("test accuracy");
        // outputs are checked before any work
        String[] again = CliRuns.run(2, "train", "--epochs", "1", "--quiet", "--log",
                dir.resolve("log.json").toString());
        assertThat(again[1]).startsWith("ntk4j: --log");
    }

    @Test
    void sigkillThenResumeGivesTheUninterruptedParameters(@TempDir Path dir) throws Exception {
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(RUN, "--params-out", full.toString()));
        Path ck = dir.resolve("ck");
        Path killed = dir.resolve("killed.npz");
        Process p = TiledRunTest.start(dir, List.of(), TiledRunTest.with(RUN, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-steps", "40", "--params-out", killed.toString()));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline && !Files.exists(ck.resolve("step-000040.state.npz"))) {
            Thread.sleep(5);
        }
        boolean alive = p.isAlive();
        p.destroyForcibly(); // SIGKILL on Linux
        p.waitFor();
        assertThat(alive).as("the child was still training when killed").isTrue();
        assertThat(killed).doesNotExist();
        Path resumed = dir.resolve("resumed.npz");
        String out = CliRuns.run(0, TiledRunTest.with(RUN, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-steps", "40", "--resume", "--params-out", resumed.toString()))[0];
        assertThat(out).contains("resuming from");
        assertSameArrays(resumed, full);
    }

    /**
     * --checkpoint-epochs 0 writes the initial parameters before the first step, as --epochs 0 --params-out does;
     * a resume from it gives the uninterrupted run's bits, and study takes the directory.
     */
    @Test
    void anEpochZeroCheckpointIsTheInitialisationThatStudyNeeds(@TempDir Path dir) throws Exception {
        String[] tiny = {"train", "--model", "fcn(depth=1,width=8,out=10)", "--train", "default:train:40", "--test",
            "none", "--batch", "16", "--optimizer", "adam", "--lr", "1e-2", "--quiet"};
        Path init = dir.resolve("init.npz");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "0", "--params-out", init.toString()));
        Path ck = dir.resolve("w8");
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "2", "--checkpoint-dir", ck.toString(),
                "--checkpoint-epochs", "0,1", "--params-out", full.toString()));
        assertThat(ck.resolve("epoch-0000" + Checkpoints.STATE_SUFFIX)).exists();
        assertThat(ck.resolve("epoch-0002.npz")).doesNotExist();
        assertSameArrays(ck.resolve("epoch-0000.npz"), init);
        // a resume from the epoch-0 checkpoint alone is the whole run
        Path only = Files.createDirectories(dir.resolve("only0"));
        for (String f : List.of("epoch-0000.npz", "epoch-0000" + Checkpoints.STATE_SUFFIX)) {
            Files.copy(ck.resolve(f), only.resolve(f));
        }
        Path resumed = dir.resolve("resumed.npz");
        String o = CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "2", "--checkpoint-dir", only.toString(),
                "--checkpoint-epochs", "0,1", "--resume", "--params-out", resumed.toString()))[0];
        assertThat(o).contains("resuming from " + only.resolve("epoch-0000.npz") + " (epoch 0, step 0)");
        assertSameArrays(resumed, full);
        String[] study = CliRuns.run(0, "study", "--model", "fcn(depth=1,out=10)", "--widths", "8", "--checkpoints",
                dir.resolve("w{width}").resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:18",
                "--kinds", "pntk");
        assertThat(study[0]).contains("| 0 | 0.000 |").contains("| 1 | ");
        assertThat(oneLineError(TiledRunTest.with(tiny, "--epochs", "2", "--checkpoint-dir", ck.toString(),
                "--checkpoint-epochs", "0,3"))).isEqualTo("ntk4j: --checkpoint-epochs: 3 is not an epoch of the run "
                        + "(0..2)");
    }

    /** Without a test set the epoch lines and the log have no test figures, NaN or otherwise; the plot is drawn. */
    @Test
    void withoutATestSetThereAreNoTestFigures(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("log.json");
        Path plot = dir.resolve("c.png");
        String out = CliRuns.run(0, "train", "--model", "fcn(depth=1,width=8,out=10)", "--train", "default:train:40",
                "--test", "none", "--batch", "16", "--epochs", "2", "--quiet", "--log", log.toString(), "--plot",
                plot.toString())[0];
        assertThat(out).doesNotContain("NaN").doesNotContain("test loss").doesNotContain("epoch 0:")
                .contains(", test none; ");
        assertThat(out.lines().filter(l -> l.startsWith("epoch ")).toList()).hasSize(2)
                .allMatch(l -> l.matches("epoch [12]: train loss [0-9.]+, [0-9.]+ s, [0-9]+ examples/s"));
        String json = Files.readString(log);
        assertThat(json).doesNotContain("NaN").contains("\"epoch_2.train_loss\": 0.")
                .contains("\"optimizer\": \"adam(beta1=0.9, beta2=0.999, eps=1.0E-8, weight_decay=0.0)\"")
                .contains("\"epoch_2.test_loss\": null").contains("\"epoch_2.test_accuracy\": null");
        assertThat(plot).exists();
    }

    /** The two archives hold the same names and, under each, the same values. */
    @Test
    void lossesPastAMillionArePrintedWithAnExponentNotThreeHundredDigits() {
        assertThat(TrainCommand.lossText(0.123456)).isEqualTo("0.1235");
        assertThat(TrainCommand.lossText(999_999.0)).isEqualTo("999999.0000");
        assertThat(TrainCommand.lossText(1e300)).isEqualTo("1.0000e+300");
        assertThat(TrainCommand.lossText(-2.5e7)).isEqualTo("-2.5000e+07");
        assertThat(TrainCommand.lossText(Double.NaN)).isEqualTo("NaN");
    }

    private static void assertSameArrays(Path actual, Path expected) throws java.io.IOException {
        Map<String, NpyArray> a = Npz.read(expected);
        Map<String, NpyArray> b = Npz.read(actual);
        assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
        for (String k : a.keySet()) {
            assertThat(b.get(k).toDoubleArray()).as(k).containsExactly(a.get(k).toDoubleArray());
        }
    }

    /**
     * train --params-out F.NPZ in a checkpoint directory writes F.NPZ and F.state.npz, a checkpoint that --resume
     * continues from (the extensions are matched in any case), to the uninterrupted run's parameters.
     */
    @Test
    void aResumeContinuesFromParamsOutWithAnUpperCaseExtension(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        String[] small = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--test", "none", "--batch", "4",
            "--quiet", "--train", d.toString()};
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(small, "--epochs", "3", "--params-out", full.toString()));
        Path ck = Files.createDirectories(dir.resolve("ck"));
        Path upper = ck.resolve("F.NPZ");
        String[] first = CliRuns.run(0, TiledRunTest.with(small, "--epochs", "2", "--params-out", upper.toString()));
        assertThat(first[0]).contains("wrote " + upper).contains("wrote " + ck.resolve("F.state.npz"));
        Path resumed = dir.resolve("resumed.npz");
        String out = CliRuns.run(0, TiledRunTest.with(small, "--checkpoint-dir", ck.toString(), "--resume", "--epochs",
                "3", "--params-out", resumed.toString()))[0];
        assertThat(out).contains("resuming from " + upper + " (epoch 2, step 4)");
        assertSameArrays(resumed, full);
    }

    /** A resume with other data, --dtype, --standardize or fewer epochs is refused; one with the same is not. */
    @Test
    void aResumeRefusesOtherInputsAndFewerEpochs(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        Path d2 = labelled(dir.resolve("d2.npz"), 2);
        String[] small = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--test", "none", "--batch", "4",
            "--quiet"};
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(small, "--train", d.toString(), "--epochs", "4", "--params-out",
                full.toString()));
        Path ck = dir.resolve("ck");
        String[] checkpointed = TiledRunTest.with(small, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-epoch");
        CliRuns.run(0, TiledRunTest.with(checkpointed, "--train", d.toString(), "--epochs", "2"));
        String[] resume = TiledRunTest.with(checkpointed, "--resume", "--epochs", "4");
        String fingerprint = "\\(examples \\[8, 10], crc32 [0-9a-f]{8}\\)";
        assertThat(oneLineError(TiledRunTest.with(resume, "--train", d2.toString()))).matches(
                "ntk4j: --resume: the checkpoint's run trained on other data " + fingerprint + " than --train "
                + java.util.regex.Pattern.quote(d2.toString()) + " " + fingerprint);
        assertThat(oneLineError(TiledRunTest.with(resume, "--train", d.toString(), "--dtype", "f64")))
                .isEqualTo("ntk4j: --resume: the checkpoint was taken with --dtype f32; this run has --dtype f64");
        assertThat(oneLineError(TiledRunTest.with(resume, "--train", d.toString(), "--standardize", "none")))
                .isEqualTo("ntk4j: --resume: the checkpoint was taken with --standardize global; this run has "
                        + "--standardize none");
        // a network with the checkpoint's parameter shapes but another activation, and other settings, by name
        assertThat(oneLineError(TiledRunTest.with(replaced(resume, "--model", "fcn(depth=1, width=16, out=3, act=erf)"),
                "--train", d.toString()))).isEqualTo("ntk4j: --resume: the checkpoint was taken "
                        + "with --model fcn(depth=1,width=16,out=3); this run has --model "
                        + "fcn(depth=1,width=16,out=3,act=erf)");
        assertThat(oneLineError(TiledRunTest.with(replaced(resume, "--batch", "5"), "--train", d.toString(), "--lr",
                "0.01")))
                .isEqualTo("ntk4j: --resume: the checkpoint was taken with lr 0.001, batch 4; this run has lr 0.01, "
                        + "batch 5 (the checkpoint's settings: adam(beta1=0.9, beta2=0.999, eps=1.0E-8, "
                        + "weight_decay=0.0), loss cross-entropy, lr 0.001, schedule constant, batch 4, seed 0)");
        Path out = dir.resolve("out.npz");
        assertThat(oneLineError(TiledRunTest.with(checkpointed, "--resume", "--epochs", "1", "--train",
                d.toString(), "--params-out", out.toString()))).isEqualTo("ntk4j: --resume: the checkpoint is at "
                        + "the end of epoch 2, past --epochs 1 (a resumed run may train longer, not shorter)");
        assertThat(out).doesNotExist();
        // a resume of the complete run trains nothing, and says so (it said nothing between its lines)
        assertThat(CliRuns.run(0, TiledRunTest.with(checkpointed, "--resume", "--epochs", "2", "--train",
                d.toString()))[0]).contains("the checkpoint is at the end of epoch 2, the last of --epochs 2: nothing "
                + "is left to train (a larger --epochs trains on)");
        assertThat(Checkpoints.latest(ck, note -> { })).isEqualTo("epoch-0002");
        // a checkpoint written before the inputs were recorded resumes without those checks
        Path old = Files.createDirectories(dir.resolve("old"));
        for (String f : List.of("epoch-0002.npz", "epoch-0002" + Checkpoints.STATE_SUFFIX)) {
            Files.copy(ck.resolve(f), old.resolve(f));
        }
        Path oldState = old.resolve("epoch-0002" + Checkpoints.STATE_SUFFIX);
        Map<String, NpyArray> state = new LinkedHashMap<>(Npz.read(oldState));
        assertThat(state.keySet()).contains("meta/run/model", "meta/run/dtype", "meta/run/standardize",
                "meta/run/train");
        state.keySet().removeIf(k -> k.startsWith("meta/run/"));
        Npz.writeArrays(oldState, state);
        assertThat(Checkpoints.run(old, "epoch-0002")).isEmpty();
        // the same inputs resume, from either, to the uninterrupted run's bits
        for (Path from : List.of(ck, old)) {
            Path resumed = dir.resolve("resumed-" + from.getFileName() + ".npz");
            String o = CliRuns.run(0, TiledRunTest.with(small, "--checkpoint-dir", from.toString(),
                    "--checkpoint-every-epoch", "--resume", "--epochs", "4", "--train", d.toString(), "--params-out",
                    resumed.toString()))[0];
            assertThat(o).contains("resuming from " + from.resolve("epoch-0002.npz"));
            assertSameArrays(resumed, full);
        }
    }

    /**
     * --resume past a damaged newest checkpoint says so on stderr, resumes from the newest readable one and ends with
     * the uninterrupted run's parameters; a state file beside another checkpoint's parameters is refused in one line.
     */
    @Test
    void aResumePassesOverADamagedNewestCheckpointAndRefusesAStateBesideOtherParameters(@TempDir Path dir)
            throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        String[] small = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--test", "none", "--batch", "4",
            "--quiet", "--train", d.toString()};
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(small, "--epochs", "3", "--params-out", full.toString()));
        Path ck = dir.resolve("ck");
        String[] checkpointed = TiledRunTest.with(small, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-epoch");
        CliRuns.run(0, TiledRunTest.with(checkpointed, "--epochs", "2"));
        Path newest = ck.resolve("epoch-0002" + Checkpoints.STATE_SUFFIX);
        byte[] whole = Files.readAllBytes(newest);
        Files.write(newest, java.util.Arrays.copyOf(whole, whole.length / 2));
        Path resumed = dir.resolve("resumed.npz");
        String[] r = CliRuns.run(0, TiledRunTest.with(checkpointed, "--resume", "--epochs", "3", "--params-out",
                resumed.toString()));
        assertThat(r[0]).contains("resuming from " + ck.resolve("epoch-0001.npz") + " (epoch 1, step 2)");
        assertThat(r[1].strip()).startsWith("ntk4j: --resume: passing over the checkpoint epoch-0002, which cannot be "
                + "read (" + newest + ": ").endsWith("; resuming from " + ck.resolve("epoch-0001.npz") + ", the "
                + "newest that can (the steps since are trained again, to the same result)").hasLineCount(1);
        assertSameArrays(resumed, full);
        // another checkpoint's parameters beside the newest state file
        Files.copy(ck.resolve("epoch-0001.npz"), ck.resolve("epoch-0003.npz"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(oneLineError(TiledRunTest.with(checkpointed, "--resume", "--epochs", "3"))).isEqualTo("ntk4j: "
                + "--resume: " + ck.resolve("epoch-0003" + Checkpoints.STATE_SUFFIX) + " was written with other "
                + "parameters than " + ck.resolve("epoch-0003.npz") + " holds (the files of two checkpoints, or of a "
                + "checkpoint that a run stopped while replacing); remove both files to resume from the checkpoint "
                + "before");
    }

    /**
     * A fresh run does not write over the step checkpoints of another run without --overwrite (refused once the
     * data's size gives the steps, before any step); with it, it does.
     */
    @Test
    void stepCheckpointsOfAnotherRunAreNotOverwrittenUnasked(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        Path ck = dir.resolve("ck");
        // 8 examples in batches of 3: 3 steps per epoch; every 2 steps: step-000002, step-000004 and epoch-0002
        String[] run = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--train", d.toString(), "--test", "none",
            "--batch", "3", "--quiet", "--checkpoint-dir", ck.toString(), "--checkpoint-every-steps", "2"};
        CliRuns.run(0, TiledRunTest.with(run, "--epochs", "2"));
        Path step2 = ck.resolve("step-000002.npz");
        byte[] before = Files.readAllBytes(step2);
        Path out = dir.resolve("out.npz");
        assertThat(oneLineError(TiledRunTest.with(run, "--epochs", "1", "--lr", "0.5", "--params-out",
                out.toString()))).isEqualTo("ntk4j: --checkpoint-dir " + step2 + " exists; pass --overwrite to "
                        + "replace it");
        assertThat(Files.readAllBytes(step2)).isEqualTo(before);
        assertThat(out).doesNotExist();
        // every 3 steps falls on the epochs' ends, epoch-0001 (new), so nothing is in the way
        CliRuns.run(0, TiledRunTest.with(replaced(run, "--checkpoint-every-steps", "3"), "--epochs", "1", "--lr",
                "0.5"));
        CliRuns.run(0, TiledRunTest.with(run, "--epochs", "1", "--lr", "0.5", "--overwrite"));
        assertThat(Files.readAllBytes(step2)).isNotEqualTo(before);
    }

    /**
     * A run that diverges (a learning rate far too large) stops with one line naming the step, and writes no
     * parameters, log or plot of NaN; --plot of a run without an epoch is refused before any work.
     */
    @Test
    void aDivergingRunWritesNoNaNAndAPlotWithoutEpochsIsRefusedFirst(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        Path out = dir.resolve("out.npz");
        Path log = dir.resolve("log.json");
        String[] run = {"train", "--model", "fcn(depth=2,width=8,out=3)", "--train", d.toString(), "--test", "none",
            "--batch", "4", "--quiet", "--standardize", "none", "--params-out", out.toString(), "--log",
            log.toString()};
        assertThat(oneLineError(TiledRunTest.with(run, "--epochs", "3", "--optimizer", "sgd", "--lr", "1e6")))
                .matches("ntk4j: train: the run diverged: the loss of step \\d \\(epoch \\d\\) is (NaN|-?Infinity) "
                        + "\\(learning rate 1000000\\.0\\); lower --lr \\(the checkpoints written before are "
                        + "kept\\)");
        assertThat(out).doesNotExist();
        assertThat(dir.resolve("out" + Checkpoints.STATE_SUFFIX)).doesNotExist();
        assertThat(log).doesNotExist();
        assertThat(oneLineError(TiledRunTest.with(run, "--epochs", "0", "--plot", dir.resolve("c.png").toString())))
                .isEqualTo("ntk4j: --plot: the curves need at least one epoch (--epochs 1)");
        assertThat(out).doesNotExist();
    }

    /** Options that do not apply are refused before any work, not ignored. */
    @Test
    void optionsThatDoNotApplyAreRefused(@TempDir Path dir) {
        String[] run = {"train", "--train", "default:train:8", "--test", "none", "--epochs", "1", "--quiet"};
        assertThat(oneLineError(TiledRunTest.with(run, "--momentum", "5")))
                .isEqualTo("ntk4j: --momentum: only for --optimizer sgd");
        assertThat(oneLineError(TiledRunTest.with(run, "--optimizer", "adam", "--momentum", "0.5")))
                .isEqualTo("ntk4j: --momentum: only for --optimizer sgd");
        for (String option : List.of("--beta1", "--beta2", "--eps")) {
            assertThat(oneLineError(TiledRunTest.with(run, "--optimizer", "sgd", option, "0.5")))
                    .isEqualTo("ntk4j: " + option + ": only for --optimizer adam");
        }
        Path ck = dir.resolve("ck");
        assertThat(oneLineError(TiledRunTest.with(run, "--checkpoint-dir", ck.toString())))
                .isEqualTo("ntk4j: --checkpoint-dir: no checkpoint to write; add --checkpoint-every-epoch, "
                        + "--checkpoint-epochs or --checkpoint-every-steps");
        assertThat(oneLineError(TiledRunTest.with(run, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-steps", "0"))).isEqualTo("ntk4j: --checkpoint-every-steps: expected at least 1, "
                        + "got 0");
        assertThat(ck).doesNotExist();
    }

    /**
     * Settings no run can have are refused in one line naming the option, before the data are read: a learning rate
     * of 0, negative, NaN or ∞, a negative epochs count, a batch of 0, momentum or β of 1, weight decay below 0, ε
     * of 0. (--epochs 0 is a run: it writes the initial parameters; labels outside the model's outputs are
     * DataErrorsTest's.)
     */
    @Test
    void settingsNoRunCanHaveAreRefusedInOneLine() {
        String[] run = {"train", "--train", "default:train:8", "--test", "none", "--epochs", "1", "--quiet"};
        assertThat(oneLineError(TiledRunTest.with(run, "--lr", "0")))
                .isEqualTo("ntk4j: --lr: expected a finite value > 0, got 0.0");
        assertThat(oneLineError(TiledRunTest.with(run, "--lr", "-0.1")))
                .isEqualTo("ntk4j: --lr: expected a finite value > 0, got -0.1");
        assertThat(oneLineError(TiledRunTest.with(run, "--lr", "NaN")))
                .isEqualTo("ntk4j: --lr: expected a finite value > 0, got NaN");
        assertThat(oneLineError(TiledRunTest.with(run, "--lr", "Infinity")))
                .isEqualTo("ntk4j: --lr: expected a finite value > 0, got Infinity");
        assertThat(oneLineError(replaced(run, "--epochs", "-1")))
                .isEqualTo("ntk4j: --epochs: expected at least 0, got -1");
        assertThat(oneLineError(TiledRunTest.with(run, "--batch", "0")))
                .isEqualTo("ntk4j: --batch: expected at least 1, got 0");
        assertThat(oneLineError(TiledRunTest.with(run, "--optimizer", "sgd", "--momentum", "1")))
                .isEqualTo("ntk4j: --momentum: expected a value in [0.0, 1.0), got 1.0");
        assertThat(oneLineError(TiledRunTest.with(run, "--beta2", "1")))
                .isEqualTo("ntk4j: --beta2: expected a value in [0.0, 1.0), got 1.0");
        assertThat(oneLineError(TiledRunTest.with(run, "--eps", "0")))
                .isEqualTo("ntk4j: --eps: expected a finite value > 0, got 0.0");
        assertThat(oneLineError(TiledRunTest.with(run, "--weight-decay", "-1e-4")))
                .isEqualTo("ntk4j: --weight-decay: expected a finite value ≥ 0, got -1.0E-4");
    }

    /** {@code args} with the value of {@code option} replaced. */
    private static String[] replaced(String[] args, String option, String value) {
        String[] r = args.clone();
        int at = java.util.Arrays.asList(r).indexOf(option);
        assertThat(at).as(option).isNotNegative();
        r[at + 1] = value;
        return r;
    }

    /**
     * The documented recipe, the same command with --resume, for a run that started from --params-in (refused
     * before 2026-12-07: "give one"): it ends with the uninterrupted run's bits; another file, or --params-in for a
     * run that started from its seed, is refused in one line.
     */
    @Test
    void aRunFromParamsInResumesWithTheSameCommand(@TempDir Path dir) throws Exception {
        String[] tiny = {"train", "--model", "fcn(depth=1,width=8,out=10)", "--train", "default:train:40", "--test",
            "none", "--batch", "16", "--optimizer", "adam", "--lr", "1e-2", "--quiet"};
        Path start = dir.resolve("start.npz");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "0", "--seed", "7", "--params-out", start.toString()));
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "3", "--params-in", start.toString(), "--params-out",
                full.toString()));
        Path ck = dir.resolve("ck");
        String[] run = TiledRunTest.with(tiny, "--params-in", start.toString(), "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-epoch");
        CliRuns.run(0, TiledRunTest.with(run, "--epochs", "1"));
        Path resumed = dir.resolve("resumed.npz");
        assertThat(CliRuns.run(0, TiledRunTest.with(run, "--epochs", "3", "--resume", "--overwrite", "--params-out",
                resumed.toString()))[0]).contains("resuming from");
        assertSameArrays(resumed, full);
        // another starting file: refused
        Path other = dir.resolve("other.npz");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "0", "--seed", "8", "--params-out", other.toString()));
        assertThat(oneLineError(TiledRunTest.with(replaced(run, "--params-in", other.toString()), "--epochs", "4",
                "--resume", "--overwrite"))).contains("started from another --params-in file than " + other);
        // a run from its seed resumed with --params-in: refused
        Path ck2 = dir.resolve("ck2");
        CliRuns.run(0, TiledRunTest.with(tiny, "--epochs", "1", "--checkpoint-dir", ck2.toString(),
                "--checkpoint-every-epoch"));
        assertThat(oneLineError(TiledRunTest.with(tiny, "--epochs", "2", "--checkpoint-dir", ck2.toString(),
                "--checkpoint-every-epoch", "--resume", "--params-in", start.toString())))
                .contains("did not start from a --params-in file");
    }

    /**
     * kernel --params-in of a checkpoint warns when the run standardised its inputs otherwise than the kernel does
     * (train's default global, kernel's none: the trained network's kernel at inputs of another scale, before
     * 2026-12-07 without a word) or trained another --model spec, and is silent when they agree and for a file
     * without a state beside it.
     */
    @Test
    void kernelOfACheckpointSaysWhenItsInputsAreStandardisedOtherwise(@TempDir Path dir) throws Exception {
        Path ck = dir.resolve("ck");
        Path out = dir.resolve("p.npz");
        CliRuns.run(0, "train", "--model", "fcn(depth=1,width=8,out=10)", "--train", "default:train:40", "--test",
                "none", "--batch", "16", "--epochs", "1", "--quiet", "--checkpoint-dir", ck.toString(),
                "--checkpoint-epochs", "1", "--params-out", out.toString());
        String[] kernel = {"kernel", "--model", "fcn(depth=1,width=8,out=10)", "--data", "default:test:6",
            "--quiet", "--params-in", ck.resolve("epoch-0001.npz").toString()};
        String err = CliRuns.run(0, kernel)[1];
        assertThat(err).contains("ntk4j: warning: --params-in " + ck.resolve("epoch-0001.npz")
                + " was trained on inputs standardised by --standardize global, and this command computes on "
                + "--data default:test:6 with --standardize none");
        assertThat(err.lines().filter(l -> l.contains("warning")).count()).isEqualTo(1);
        assertThat(CliRuns.run(0, TiledRunTest.with(kernel, "--standardize", "global"))[1]).doesNotContain("warning");
        // --params-out's file carries the same record (before 2026-12-07 it said nothing)
        assertThat(CliRuns.run(0, replaced(kernel, "--params-in", out.toString()))[1]).contains("ntk4j: warning: "
                + "--params-in " + out + " was trained on inputs standardised by --standardize global, and this "
                + "command computes on --data default:test:6 with --standardize none");
        // the same shapes under another activation: a network the run never trained; case and blanks aside, the same
        String[] global = TiledRunTest.with(kernel, "--standardize", "global");
        String tanh = CliRuns.run(0, replaced(global, "--model", "fcn(depth=1,width=8,out=10,act=tanh)"))[1];
        assertThat(tanh).contains("was trained as --model fcn(depth=1,width=8,out=10); this command computes with "
                + "--model fcn(depth=1,width=8,out=10,act=tanh)");
        assertThat(CliRuns.run(0, replaced(global, "--model", "FCN(depth=1, width=8, out=10)"))[1])
                .doesNotContain("warning");
    }

    /**
     * --params-out F.npz writes F.state.npz beside it, as a checkpoint's: the run's record (model, dtype,
     * standardisation and its statistics, data) and state, so that F resumes as a checkpoint; the state file is an
     * output under the --overwrite rules, a state file's name is refused, and a record that F no longer holds
     * (F written again by kernel --params-out) is not taken for F's.
     */
    @Test
    void paramsOutCarriesItsRunsRecordAsACheckpointDoes(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        String[] small = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--test", "none", "--batch", "4",
            "--quiet", "--train", d.toString()};
        Path full = dir.resolve("full.npz");
        CliRuns.run(0, TiledRunTest.with(small, "--epochs", "3", "--params-out", full.toString()));
        Path a = Files.createDirectories(dir.resolve("a"));
        Path out = a.resolve("out.npz");
        Path state = a.resolve("out" + Checkpoints.STATE_SUFFIX);
        String[] o = CliRuns.run(0, TiledRunTest.with(small, "--epochs", "2", "--params-out", out.toString()));
        assertThat(o[0].lines().filter(l -> l.startsWith("wrote ")).toList()).containsExactly("wrote " + out,
                "wrote " + state);
        Map<String, String> record = Checkpoints.record(out);
        assertThat(record).containsEntry("model", "fcn(depth=1,width=16,out=3)").containsEntry("dtype", "f32")
                .containsEntry("standardize", "global").containsKey("train");
        // the statistics, exact: μ and σ of the 80 float32 values, two passes in float64 (np.mean, np.std)
        double[] muInv = globalStatistics(d);
        assertThat(Double.parseDouble(record.get("standardize_mean"))).isCloseTo(muInv[0], within(1e-15));
        assertThat(Double.parseDouble(record.get("standardize_std"))).isCloseTo(1 / muInv[1], within(1e-15));
        // a checkpoint: the directory resumes from it to the uninterrupted longer run's bits
        Path resumed = dir.resolve("resumed.npz");
        assertThat(CliRuns.run(0, TiledRunTest.with(small, "--epochs", "3", "--checkpoint-dir", a.toString(),
                "--resume", "--params-out", resumed.toString()))[0]).contains("resuming from " + out
                + " (epoch 2, step 4)");
        assertSameArrays(resumed, full);
        // the state file is an output: refused when it exists, replaced with --overwrite
        Files.delete(out);
        assertThat(oneLineError(TiledRunTest.with(small, "--epochs", "1", "--params-out", out.toString())))
                .isEqualTo("ntk4j: --params-out " + state + " exists; pass --overwrite to replace it");
        assertThat(out).doesNotExist();
        CliRuns.run(0, TiledRunTest.with(small, "--epochs", "1", "--params-out", out.toString(), "--overwrite"));
        assertThat(Checkpoints.record(out)).containsEntry("model", "fcn(depth=1,width=16,out=3)");
        assertThat(oneLineError(TiledRunTest.with(small, "--epochs", "1", "--params-out",
                a.resolve("x" + Checkpoints.STATE_SUFFIX).toString()))).isEqualTo("ntk4j: --params-out "
                        + a.resolve("x" + Checkpoints.STATE_SUFFIX) + ": a name ending in .state.npz is that of the "
                        + "state file written beside the parameters; give the parameters' name, e.g. final.npz");
        // F written again without a state (kernel --params-out): the state beside it is not its record
        String[] kernel = {"kernel", "--model", "fcn(depth=1,width=16,out=3,act=erf)", "--data", d.toString(),
            "--quiet"};
        assertThat(CliRuns.run(0, TiledRunTest.with(kernel, "--params-in", out.toString()))[1])
                .contains("was trained as --model fcn(depth=1,width=16,out=3); this command computes with --model "
                        + "fcn(depth=1,width=16,out=3,act=erf)");
        CliRuns.run(0, TiledRunTest.with(kernel, "--params-out", out.toString(), "--overwrite"));
        assertThat(state).exists();
        assertThat(Checkpoints.record(out)).isNull();
        assertThat(CliRuns.run(0, TiledRunTest.with(kernel, "--params-in", out.toString()))[1])
                .doesNotContain("warning");
    }

    /**
     * predict --params-in of train's parameters standardises --train and --test by the statistics the run fitted
     * (not by its own --train's), saying so when they differ: the same predictions as inputs standardised by those
     * statistics by hand; the same --train gives the same statistics and says nothing; another --standardize warns.
     */
    @Test
    void predictOfTrainedParametersStandardisesByTheRunsStatistics(@TempDir Path dir) throws Exception {
        Path d1 = labelled(dir.resolve("d1.npz"), 1);
        Path d2 = labelled(dir.resolve("d2.npz"), 2);
        Path d3 = labelled(dir.resolve("d3.npz"), 3);
        Path p = dir.resolve("p.npz");
        String model = "fcn(depth=1,width=16,out=3)";
        CliRuns.run(0, "train", "--model", model, "--train", d1.toString(), "--test", "none", "--batch", "4",
                "--epochs", "2", "--quiet", "--params-out", p.toString());
        // the same parameters without their record
        Path bare = dir.resolve("bare.npz");
        Files.copy(p, bare);
        // d2 and d3 standardised by hand by d1's μ and σ
        double[] muInv = globalStatistics(d1);
        Path d2s = standardised(d2, dir.resolve("d2s.npz"), muInv[0], muInv[1]);
        Path d3s = standardised(d3, dir.resolve("d3s.npz"), muInv[0], muInv[1]);
        String[] predict = {"predict", "--model", model, "--dtype", "f64", "--test", d3.toString()};
        Path recorded = dir.resolve("recorded.npy");
        String err = CliRuns.run(0, TiledRunTest.with(predict, "--train", d2.toString(), "--params-in", p.toString(),
                "--out", recorded.toString()))[1];
        assertThat(err.strip()).startsWith("ntk4j: --params-in " + p + ": standardising by the statistics its "
                + "training run fitted (global: mean ").contains("), not by those of --train " + d2 + " (mean ")
                .endsWith("so that the network sees inputs of the scale it was trained at (docs/training.md)")
                .hasLineCount(1);
        Path byHand = dir.resolve("byhand.npy");
        String warned = CliRuns.run(0, TiledRunTest.with(replaced(predict, "--test", d3s.toString()), "--train",
                d2s.toString(), "--standardize", "none", "--params-in", p.toString(), "--out", byHand.toString()))[1];
        assertThat(warned).contains("ntk4j: warning: --params-in " + p + " was trained on inputs standardised by "
                + "--standardize global, and this command computes on --train " + d2s + " with --standardize none");
        Path own = dir.resolve("own.npy");
        CliRuns.run(0, TiledRunTest.with(predict, "--train", d2.toString(), "--params-in", bare.toString(), "--out",
                own.toString()));
        double[] r = Npy.read(recorded).toDoubleArray();
        double[] h = Npy.read(byHand).toDoubleArray();
        double[] w = Npy.read(own).toDoubleArray();
        assertThat(r).hasSize(24);
        for (int i = 0; i < r.length; i++) {
            assertThat(r[i]).as("prediction %d", i).isCloseTo(h[i], within(1e-12));
        }
        // not vacuous: d2's own statistics give other predictions
        double apart = 0;
        for (int i = 0; i < r.length; i++) {
            apart = Math.max(apart, Math.abs(r[i] - w[i]));
        }
        assertThat(apart).isGreaterThan(1e-3);
        // the training data's own statistics are the recorded ones: no line, the same predictions as without them
        Path same = dir.resolve("same.npy");
        Path sameBare = dir.resolve("same-bare.npy");
        assertThat(CliRuns.run(0, TiledRunTest.with(predict, "--train", d1.toString(), "--params-in", p.toString(),
                "--out", same.toString()))[1]).isEmpty();
        CliRuns.run(0, TiledRunTest.with(predict, "--train", d1.toString(), "--params-in", bare.toString(), "--out",
                sameBare.toString()));
        assertThat(Npy.read(same).toDoubleArray()).containsExactly(Npy.read(sameBare).toDoubleArray());
    }

    /**
     * kernel --params-in of train's parameters, in the run's --standardize, standardises --data (and --x2) by the
     * statistics the run fitted, as predict does: the kernel of inputs standardised by those statistics by hand.
     */
    @Test
    void kernelOfTrainedParametersStandardisesByTheRunsStatistics(@TempDir Path dir) throws Exception {
        Path d1 = labelled(dir.resolve("d1.npz"), 1);
        Path d2 = labelled(dir.resolve("d2.npz"), 2);
        Path p = dir.resolve("p.npz");
        String model = "fcn(depth=1,width=16,out=3)";
        CliRuns.run(0, "train", "--model", model, "--train", d1.toString(), "--test", "none", "--batch", "4",
                "--epochs", "2", "--quiet", "--params-out", p.toString());
        double[] muInv = globalStatistics(d1);
        Path d2s = standardised(d2, dir.resolve("d2s.npz"), muInv[0], muInv[1]);
        Path recorded = dir.resolve("recorded.npy");
        Path byHand = dir.resolve("byhand.npy");
        Path own = dir.resolve("own.npy");
        String[] kernel = {"kernel", "--model", model, "--dtype", "f64", "--kind", "full", "--quiet", "--params-in",
            p.toString()};
        String err = CliRuns.run(0, TiledRunTest.with(kernel, "--data", d2.toString(), "--standardize", "global",
                "--out", recorded.toString()))[1];
        assertThat(err.strip()).startsWith("ntk4j: --params-in " + p + ": standardising by the statistics its "
                + "training run fitted (global: mean ").hasLineCount(1);
        CliRuns.run(0, TiledRunTest.with(kernel, "--data", d2s.toString(), "--out", byHand.toString()));
        Files.copy(p, dir.resolve("bare.npz"));
        CliRuns.run(0, TiledRunTest.with(replaced(kernel, "--params-in", dir.resolve("bare.npz").toString()),
                "--data", d2.toString(), "--standardize", "global", "--out", own.toString()));
        double[] r = Npy.read(recorded).toDoubleArray();
        double[] h = Npy.read(byHand).toDoubleArray();
        double[] w = Npy.read(own).toDoubleArray();
        assertThat(r).hasSameSizeAs(h);
        double scale = 0;
        double apart = 0;
        for (int i = 0; i < r.length; i++) {
            scale = Math.max(scale, Math.abs(h[i]));
            apart = Math.max(apart, Math.abs(r[i] - w[i]));
        }
        for (int i = 0; i < r.length; i++) {
            assertThat(r[i]).as("entry %d", i).isCloseTo(h[i], within(1e-12 * scale));
        }
        // not vacuous: --data's own statistics give another kernel
        assertThat(apart).isGreaterThan(1e-4 * scale);
    }

    /**
     * train --params-in of another run's parameters goes on with that run's recorded statistics (in its
     * --standardize), saying so, and records them again: the network keeps seeing inputs at its training scale.
     */
    @Test
    void trainingOnFromTrainedParametersKeepsTheirStatistics(@TempDir Path dir) throws Exception {
        Path d1 = labelled(dir.resolve("d1.npz"), 1);
        Path d2 = labelled(dir.resolve("d2.npz"), 2);
        Path p = dir.resolve("p.npz");
        Path q = dir.resolve("q.npz");
        String model = "fcn(depth=1,width=16,out=3)";
        CliRuns.run(0, "train", "--model", model, "--train", d1.toString(), "--test", "none", "--batch", "4",
                "--epochs", "1", "--quiet", "--params-out", p.toString());
        String err = CliRuns.run(0, "train", "--model", model, "--train", d2.toString(), "--test", "none", "--batch",
                "4", "--epochs", "1", "--quiet", "--params-in", p.toString(), "--params-out", q.toString())[1];
        assertThat(err.strip()).startsWith("ntk4j: --params-in " + p + ": standardising by the statistics its "
                + "training run fitted (global: mean ").hasLineCount(1);
        Map<String, String> first = Checkpoints.record(p);
        Map<String, String> second = Checkpoints.record(q);
        assertThat(second.get(TrainedInputs.MEAN)).isEqualTo(first.get(TrainedInputs.MEAN));
        assertThat(second.get(TrainedInputs.STD)).isEqualTo(first.get(TrainedInputs.STD));
        // not vacuous: d2's own statistics are others
        double[] own = globalStatistics(d2);
        assertThat(Math.abs(Double.parseDouble(second.get(TrainedInputs.MEAN)) - own[0])).isGreaterThan(1e-3);
    }

    /**
     * A run that started from another run's parameters (standardising by that run's recorded statistics) resumed
     * without --params-in, as the refusal of another file allows ("give the file it started from, or none"): it goes
     * on with the statistics its checkpoint recorded, ending with the uninterrupted run's bits; it standardised by
     * its --train's own statistics before (review, 2026-12-07 afternoon), silently training on inputs of another
     * scale from the resumed epoch on.
     */
    @Test
    void aResumeGoesOnWithTheStatisticsItsCheckpointRecorded(@TempDir Path dir) throws Exception {
        Path d1 = labelled(dir.resolve("d1.npz"), 1);
        Path d2 = labelled(dir.resolve("d2.npz"), 2);
        Path p = dir.resolve("p.npz");
        String[] on = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--test", "none", "--batch", "4",
            "--quiet", "--seed", "3"};
        CliRuns.run(0, TiledRunTest.with(on, "--train", d1.toString(), "--epochs", "1", "--params-out",
                p.toString()));
        Path full = dir.resolve("full.npz");
        String[] second = TiledRunTest.with(on, "--train", d2.toString());
        CliRuns.run(0, TiledRunTest.with(second, "--epochs", "3", "--params-in", p.toString(), "--params-out",
                full.toString()));
        Path ck = dir.resolve("ck");
        String[] checkpointed = TiledRunTest.with(second, "--checkpoint-dir", ck.toString(),
                "--checkpoint-every-epoch");
        CliRuns.run(0, TiledRunTest.with(checkpointed, "--epochs", "1", "--params-in", p.toString()));
        Path resumed = dir.resolve("resumed.npz");
        CliRuns.run(0, TiledRunTest.with(checkpointed, "--epochs", "3", "--resume", "--params-out",
                resumed.toString()));
        assertThat(Checkpoints.record(resumed).get(TrainedInputs.MEAN))
                .isEqualTo(Checkpoints.record(p).get(TrainedInputs.MEAN));
        assertSameArrays(resumed, full);
    }

    /**
     * --checkpoint-every-steps above the run's steps, and --checkpoint-every-epoch with --epochs 0, would write no
     * checkpoint: refused before any step, leaving no directory; the run's total is accepted.
     */
    @Test
    void aCheckpointScheduleThatWritesNothingIsRefused(@TempDir Path dir) throws Exception {
        Path d = labelled(dir.resolve("d.npz"), 1);
        Path ck = dir.resolve("ck");
        // 8 examples in batches of 3: 3 steps per epoch, 6 in 2 epochs
        String[] run = {"train", "--model", "fcn(depth=1,width=16,out=3)", "--train", d.toString(), "--test", "none",
            "--batch", "3", "--quiet", "--epochs", "2", "--checkpoint-dir", ck.toString()};
        assertThat(oneLineError(TiledRunTest.with(run, "--checkpoint-every-steps", "7"))).isEqualTo("ntk4j: "
                + "--checkpoint-every-steps 7: the run has 6 steps (2 epochs of 3: 8 examples in batches of 3), so no "
                + "step checkpoint would be written; give at most 6");
        assertThat(ck).doesNotExist();
        assertThat(oneLineError(replaced(TiledRunTest.with(run, "--checkpoint-every-epoch"), "--epochs", "0")))
                .isEqualTo("ntk4j: --checkpoint-every-epoch: --epochs 0 trains no epoch, so no checkpoint would be "
                        + "written; for the initial parameters give --checkpoint-epochs 0");
        assertThat(ck).doesNotExist();
        CliRuns.run(0, TiledRunTest.with(run, "--checkpoint-every-steps", "6"));
        try (java.util.stream.Stream<Path> files = Files.list(ck)) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList())
                    .containsExactly("epoch-0002.npz", "epoch-0002" + Checkpoints.STATE_SUFFIX);
        }
    }

    /** μ and 1/σ of {@code in}'s x (float32 values) over all its entries, two passes in float64. */
    private static double[] globalStatistics(Path in) throws Exception {
        double[] x = Npz.read(in).get("x").toDoubleArray();
        double mu = 0;
        for (double v : x) {
            mu += v;
        }
        mu /= x.length;
        double sq = 0;
        for (double v : x) {
            sq += (v - mu) * (v - mu);
        }
        return new double[] {mu, 1 / Math.sqrt(sq / x.length)};
    }

    /** {@code in}'s x standardised by hand, (x − μ)·(1/σ) in float64, and its labels, written as float64. */
    private static Path standardised(Path in, Path file, double mu, double inv) throws Exception {
        Map<String, NpyArray> a = Npz.read(in);
        double[] x = a.get("x").toDoubleArray();
        for (int i = 0; i < x.length; i++) {
            x[i] = (x[i] - mu) * inv;
        }
        Map<String, NpyArray> b = new LinkedHashMap<>();
        b.put("x", NpyArray.ofDoubles(NpyDType.FLOAT64, x, 8, 10));
        b.put("y", a.get("y"));
        Npz.writeArrays(file, b);
        return file;
    }

    /** The one-line error of a failing run: exit code 2, "ntk4j: ..." on one line. */
    private static String oneLineError(String... args) {
        String err = CliRuns.run(2, args)[1];
        assertThat(err.strip().lines().count()).as("one line: %s", err).isEqualTo(1);
        return err.strip();
    }

    /** An npz of x float32 [8, 10] (normal, drawn from the seed) and labels y = 0, 1, 2, 0, ... */
    private static Path labelled(Path file, long seed) throws Exception {
        Random r = new Random(seed);
        double[] x = new double[80];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextGaussian();
        }
        long[] y = new long[8];
        for (int i = 0; i < y.length; i++) {
            y[i] = i % 3;
        }
        Map<String, NpyArray> a = new LinkedHashMap<>();
        a.put("x", NpyArray.ofDoubles(NpyDType.FLOAT32, x, 8, 10));
        a.put("y", NpyArray.ofLongs(NpyDType.INT64, y, 8));
        Npz.writeArrays(file, a);
        return file;
    }

    /**
     * --batch-norm train trains a ResNet's batch norms as PyTorch's train() does (the trainer's test holds the
     * arithmetic to PyTorch): the checkpoints hold each epoch's running statistics, which move; the log records the
     * mode; kernel --params-in of a checkpoint computes its pNTK with them (refused before 2026-12-07: the projected
     * network dropped the statistics); a resume in the other mode is refused naming it; without --batch-norm stderr
     * says the batch norms train frozen; a model without batch norms is refused.
     */
    @Test
    void batchNormsTrainInTrainingModeAndCheckpointTheirRunningStatistics(@TempDir Path dir) throws Exception {
        String[] run = {"train", "--model", "resnet18(out=10,width=2)", "--train", "default:train:48", "--test",
            "default:test:16", "--batch", "16", "--optimizer", "sgd", "--lr", "0.05", "--quiet", "--dtype", "f64",
            "--standardize", "none"};
        Path ck = dir.resolve("ck");
        String[] out = CliRuns.run(0, TiledRunTest.with(run, "--epochs", "2", "--batch-norm", "train",
                "--checkpoint-dir", ck.toString(), "--checkpoint-epochs", "0,1,2", "--log",
                dir.resolve("log.json").toString()));
        assertThat(out[0]).contains(", batch norm train");
        assertThat(out[1]).doesNotContain("train frozen");
        assertThat(Files.readString(dir.resolve("log.json"))).contains("\"batch_norm\": \"train\"");
        String var = "buffers/1_batch_norm_eval/running_var";
        double[] v0 = Npz.read(ck.resolve("epoch-0000.npz")).get(var).toDoubleArray();
        double[] v1 = Npz.read(ck.resolve("epoch-0001.npz")).get(var).toDoubleArray();
        double[] v2 = Npz.read(ck.resolve("epoch-0002.npz")).get(var).toDoubleArray();
        assertThat(v0).containsOnly(1.0);
        assertThat(v1).isNotEqualTo(v0);
        assertThat(v2).isNotEqualTo(v1);
        String k = CliRuns.run(0, "kernel", "--model", "resnet18(out=10,width=2)", "--data", "default:test:3",
                "--params-in", ck.resolve("epoch-0002.npz").toString(), "--kind", "pntk", "--dtype", "f64",
                "--out", dir.resolve("k.npy").toString())[0];
        assertThat(dir.resolve("k.npy")).exists();
        assertThat(k).contains("k.npy");
        // study measures each checkpoint with its own statistics: its kernel velocity is that of the full kernels
        // kernel --params-in computes from the checkpoints
        Path json = dir.resolve("s.json");
        CliRuns.run(0, "study", "--model", "resnet18(out=10)", "--widths", "2", "--checkpoints",
                ck.resolve("epoch-{epoch}.npz").toString(), "--sample", "default:test:6", "--n", "4", "--kinds",
                "pntk", "--dtype", "f64", "--json", json.toString());
        double[][] full = new double[3][];
        for (int e : new int[] {0, 2}) {
            Path f = dir.resolve("full" + e + ".npy");
            CliRuns.run(0, "kernel", "--model", "resnet18(out=10,width=2)", "--data", "default:test:4", "--params-in",
                    ck.resolve(String.format("epoch-%04d.npz", e)).toString(), "--kind", "full", "--dtype", "f64",
                    "--out", f.toString());
            full[e] = Npy.read(f).toDoubleArray();
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < full[0].length; i++) {
            num += Math.pow(full[2][i] - full[0][i], 2);
            den += Math.pow(full[0][i], 2);
        }
        double velocity = ((Number) org.ntk4j.io.JsonReport.read(json).get("width_2.epoch_2.kernel_velocity"))
                .doubleValue();
        assertThat(velocity).isGreaterThan(1e-3).isCloseTo(Math.sqrt(num / den), within(1e-10));
        String[] other = CliRuns.run(2, TiledRunTest.with(run, "--epochs", "3", "--checkpoint-dir", ck.toString(),
                "--checkpoint-epochs", "3", "--resume"));
        assertThat(other[1]).startsWith("ntk4j: --resume: the checkpoint was taken with batch norm train; this run has "
                + "batch norm frozen (the checkpoint's settings: sgd(momentum=0.9, weight_decay=0.0), loss "
                + "cross-entropy, lr 0.05, schedule constant, batch 16, seed 0, batch norm train)");
        String[] frozen = CliRuns.run(0, TiledRunTest.with(run, "--epochs", "0"));
        assertThat(frozen[1]).contains("ntk4j: train: the batch norms of resnet18(out=10,width=2) train frozen");
        String[] none = CliRuns.run(2, "train", "--train", "default:train:48", "--epochs", "0", "--batch-norm",
                "train", "--quiet");
        assertThat(none[1].strip()).isEqualTo("ntk4j: --batch-norm train: fcn(depth=2,width=512) has no batch norm "
                + "with running statistics to train");
    }
}
