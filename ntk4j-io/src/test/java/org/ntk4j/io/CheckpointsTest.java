package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.EpochMetrics;
import org.ntk4j.train.TrainState;

class CheckpointsTest {
    /**
     * A checkpoint's parameter file holds the model's constants (batch-norm running statistics) with the
     * parameters, as --params-out does, and both come back: what --params-in, study and --resume compute with.
     */
    @Test
    void aCheckpointKeepsTheParametersBuffers(@TempDir Path dir) throws Exception {
        Model m = new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.relu(), Layers.dense(3)),
                "bn-net");
        int[] in = {3};
        try (Params init = m.init(2, in, DType.F64)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            init.tensors().forEach((k, v) -> tensors.put(k, v.copy()));
            Map<String, Tensor> stats = new LinkedHashMap<>();
            init.buffers().forEach((k, v) -> stats.put(k, Tensor.full(DType.F64, k.endsWith("var") ? 4 : -0.5,
                    v.shape())));
            Map<String, Tensor> optimizer = new LinkedHashMap<>();
            init.tensors().forEach((k, v) -> optimizer.put("optimizer/momentum/" + k, Tensor.full(DType.F64, 0.25,
                    v.shape())));
            List<EpochMetrics> history = List.of(new EpochMetrics(0, 0, 0.1, Double.NaN, Double.NaN, Double.NaN,
                    Double.NaN, 0), new EpochMetrics(1, 3, 0.1, 0.5, Double.NaN, Double.NaN, 100, 0.03));
            try (TrainState s = new TrainState(new Params(tensors, stats), optimizer, 1, 0, 3, 0, 0, history,
                    "sgd(momentum=0.9, weight_decay=0.0), loss mse")) {
                Checkpoints.save(s, dir, "epoch-0001");
                try (Params file = ParamsFile.load(dir.resolve("epoch-0001.npz"), m, in, DType.F64);
                     TrainState back = Checkpoints.load(dir, "epoch-0001", m, in, DType.F64)) {
                    for (Params p : List.of(file, back.params())) {
                        assertThat(p.buffers().keySet()).containsExactlyElementsOf(stats.keySet());
                        for (String k : stats.keySet()) {
                            assertThat(p.buffers().get(k).toDoubleArray()).as(k)
                                    .containsExactly(stats.get(k).toDoubleArray());
                        }
                        for (String k : tensors.keySet()) {
                            assertThat(p.get(k).toDoubleArray()).as(k).containsExactly(tensors.get(k).toDoubleArray());
                        }
                    }
                    assertThat(back.buffers().keySet()).containsExactlyElementsOf(optimizer.keySet());
                    assertThat(back.step()).isEqualTo(3);
                    assertThat(back.history()).hasSize(2);
                }
            }
        }
    }

    private static final Model NET = new Model(Layers.serial(Layers.dense(4), Layers.relu(), Layers.dense(3)), "net");
    private static final int[] IN = {3};

    /** A checkpoint at the end of epoch {@code epoch} plus {@code stepInEpoch} steps, of parameters drawn at seed. */
    private static void save(Path dir, String name, int epoch, long stepInEpoch, long step, long seed)
            throws Exception {
        try (TrainState s = new TrainState(NET.init(seed, IN, DType.F64), Map.of(), epoch, stepInEpoch, step, 0, 0,
                List.of(), "sgd, loss mse")) {
            Checkpoints.save(s, dir, name);
        }
    }

    private static void truncate(Path file) throws Exception {
        byte[] b = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(b, b.length / 2));
    }

    /**
     * The latest checkpoint is found from each state file's position alone: a damaged older one is not needed and
     * blocks nothing; a damaged newer one is passed over for the newest readable, saying which and why; none
     * readable is an error naming the file.
     */
    @Test
    void damagedCheckpointsArePassedOverAndOnlyANewerOneIsReported(@TempDir Path dir) throws Exception {
        save(dir, "epoch-0001", 1, 0, 3, 1);
        save(dir, "epoch-0002", 2, 0, 6, 2);
        save(dir, "step-000008", 2, 2, 8, 3);
        List<String> notes = new ArrayList<>();
        assertThat(Checkpoints.latest(dir, notes::add)).isEqualTo("step-000008");
        truncate(dir.resolve("epoch-0001" + Checkpoints.STATE_SUFFIX));
        assertThat(Checkpoints.latest(dir, notes::add)).isEqualTo("step-000008");
        assertThat(notes).isEmpty();
        truncate(dir.resolve("step-000008" + Checkpoints.STATE_SUFFIX));
        assertThat(Checkpoints.latest(dir, notes::add)).isEqualTo("epoch-0002");
        assertThat(notes).singleElement().asString()
                .startsWith("passing over the checkpoint step-000008, which cannot be read (" + dir.resolve(
                        "step-000008" + Checkpoints.STATE_SUFFIX) + ": not a .npz file")
                .endsWith("; resuming from " + dir.resolve("epoch-0002.npz") + ", the newest that can (the steps "
                        + "since are trained again, to the same result)");
        // a truncated parameter file is passed over as well
        notes.clear();
        truncate(dir.resolve("epoch-0002.npz"));
        assertThatThrownBy(() -> Checkpoints.latest(dir, notes::add)).isInstanceOf(NpyFormatException.class)
                .hasMessageStartingWith(dir + ": no checkpoint can be read: " + dir.resolve("epoch-0001"
                        + Checkpoints.STATE_SUFFIX) + ": not a .npz file");
    }

    /**
     * A state file beside a parameter file it was not written with (another step's parameters) is refused, by
     * latest and by load, naming both files; one written before the digest was recorded loads as before.
     */
    @Test
    void aStateFileBesideOtherParametersIsRefused(@TempDir Path dir) throws Exception {
        save(dir, "epoch-0001", 1, 0, 3, 1);
        save(dir, "epoch-0002", 2, 0, 6, 2);
        Files.copy(dir.resolve("epoch-0001.npz"), dir.resolve("epoch-0002.npz"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String refusal = dir.resolve("epoch-0002" + Checkpoints.STATE_SUFFIX) + " was written with other parameters "
                + "than " + dir.resolve("epoch-0002.npz") + " holds (the files of two checkpoints, or of a "
                + "checkpoint that a run stopped while replacing); remove both files to resume from the checkpoint "
                + "before";
        assertThatThrownBy(() -> Checkpoints.latest(dir, note -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(refusal);
        assertThatThrownBy(() -> Checkpoints.load(dir, "epoch-0002", NET, IN, DType.F64))
                .isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
        // the same file of its own step loads; so does a state file written without the digest
        Path state = dir.resolve("epoch-0002" + Checkpoints.STATE_SUFFIX);
        Map<String, NpyArray> a = new LinkedHashMap<>(Npz.read(state));
        assertThat(a.remove("meta/params")).isNotNull();
        Npz.writeArrays(state, a);
        try (TrainState s = Checkpoints.load(dir, "epoch-0002", NET, IN, DType.F64);
             Params first = NET.init(1, IN, DType.F64)) {
            assertThat(s.step()).isEqualTo(6);
            for (String k : first.tensors().keySet()) {
                assertThat(s.params().get(k).toDoubleArray()).as(k).containsExactly(first.get(k).toDoubleArray());
            }
        }
        try (TrainState s = Checkpoints.load(dir, "epoch-0001", NET, IN, DType.F64)) {
            assertThat(s.step()).isEqualTo(3);
        }
    }

    /**
     * A parameter file of any NAME.npz name is written with its state file NAME.state.npz beside it (train
     * --params-out), whose record comes back by the parameter file's path, and only while the file holds the
     * parameters it was written with; names that are not NAME.npz, or are a state file's, have no state file.
     */
    @Test
    void aParameterFileOfAnyNameCarriesItsRecord(@TempDir Path dir) throws Exception {
        assertThat(Checkpoints.stateFile(dir.resolve("final.npz"))).isEqualTo(dir.resolve("final.state.npz"));
        assertThat(Checkpoints.stateFile(dir.resolve("Final.NPZ"))).isEqualTo(dir.resolve("Final.state.npz"));
        assertThat(Checkpoints.stateFile(dir.resolve("final.state.npz"))).isNull();
        assertThat(Checkpoints.stateFile(dir.resolve("final.npy"))).isNull();
        assertThat(Checkpoints.stateFile(dir.resolve(".npz"))).isNull();
        Path params = dir.resolve("final.npz");
        try (TrainState s = new TrainState(NET.init(3, IN, DType.F64), Map.of(), 2, 0, 8, 0, 0, List.of(),
                "sgd, loss mse")) {
            Checkpoints.save(s, params, Map.of("model", "net", "standardize", "global"));
            assertThatThrownBy(() -> Checkpoints.save(s, dir.resolve("x.state.npz"), Map.of()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("checkpoint: expected a parameter file "
                            + "NAME.npz, not NAME.state.npz, got " + dir.resolve("x.state.npz"));
        }
        // Map.of's order is the JVM's (randomised per run): the entries, not their order
        assertThat(Checkpoints.record(params)).isEqualTo(Map.of("model", "net", "standardize", "global"));
        assertThat(Checkpoints.latest(dir, note -> { })).isEqualTo("final");
        assertThat(Checkpoints.record(dir.resolve("none.npz"))).isNull();
        // the parameter file written again without its state: the record is not its
        try (Params other = NET.init(4, IN, DType.F64)) {
            ParamsFile.save(other, params);
        }
        assertThat(Checkpoints.record(params)).isNull();
    }

    /**
     * train --params-out F.NPZ writes F.NPZ and F.state.npz: a checkpoint F, which latest finds and load reads, the
     * extensions matched in any case (a state file G.STATE.NPZ too); of two parameter files for one stem (F.npz and
     * F.NPZ share F.state.npz), the one the state file was written with.
     */
    @Test
    void aCheckpointIsFoundWhateverTheCaseOfItsExtensions(@TempDir Path dir) throws Exception {
        Path upper = dir.resolve("F.NPZ");
        try (TrainState s = new TrainState(NET.init(3, IN, DType.F64), Map.of(), 2, 0, 8, 0, 0, List.of(),
                "sgd, loss mse")) {
            Checkpoints.save(s, upper, Map.of("model", "net"));
        }
        assertThat(dir.resolve("F.state.npz")).exists();
        assertThat(Checkpoints.latest(dir, note -> { })).isEqualTo("F");
        assertThat(Checkpoints.paramsFile(dir, "F")).isEqualTo(upper);
        assertThat(Checkpoints.run(dir, "F")).isEqualTo(Map.of("model", "net"));
        try (TrainState back = Checkpoints.load(dir, "F", NET, IN, DType.F64);
             Params written = NET.init(3, IN, DType.F64)) {
            assertThat(back.step()).isEqualTo(8);
            for (String k : written.tensors().keySet()) {
                assertThat(back.params().tensors().get(k).toDoubleArray()).as(k)
                        .containsExactly(written.tensors().get(k).toDoubleArray());
            }
        }
        // F.npz of another run beside, older: F.state.npz was written with F.NPZ, which its digest names
        try (Params other = NET.init(4, IN, DType.F64)) {
            ParamsFile.save(other, dir.resolve("F.npz"));
        }
        assertThat(Checkpoints.latest(dir, note -> { })).isEqualTo("F");
        assertThat(Checkpoints.paramsFile(dir, "F")).isEqualTo(upper);
        try (TrainState back = Checkpoints.load(dir, "F", NET, IN, DType.F64)) {
            assertThat(back.step()).isEqualTo(8);
        }
        // a state file whose suffix is upper case (copied through a tool that upper-cases names), more steps
        try (TrainState s = new TrainState(NET.init(5, IN, DType.F64), Map.of(), 3, 0, 12, 0, 0, List.of(),
                "sgd, loss mse")) {
            Checkpoints.save(s, dir.resolve("g.npz"), Map.of());
        }
        Files.move(dir.resolve("g.state.npz"), dir.resolve("g.STATE.NPZ"));
        assertThat(Checkpoints.latest(dir, note -> { })).isEqualTo("g");
        try (TrainState back = Checkpoints.load(dir, "g", NET, IN, DType.F64)) {
            assertThat(back.step()).isEqualTo(12);
        }
        // the stem itself is matched exactly: G is not g
        assertThatThrownBy(() -> Checkpoints.load(dir, "G", NET, IN, DType.F64))
                .isInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    /**
     * Adam (whose step count t is the checkpoint's global step) with a step schedule, checkpoints every 3 steps of
     * 7 per epoch (so inside epochs) and at epoch ends, written to files and read back in float32: a resume from
     * every one ends with the uninterrupted run's parameters and curves, bit for bit. Then the kills a write can
     * suffer, the newest checkpoint's: killed while writing its parameters (a partial temporary file is left, the
     * final name never written), or between its parameters and its state (the parameter file without its state):
     * the latest is the checkpoint before, and a resume from it gives the same bits.
     */
    @Test
    void resumesFromCheckpointFilesEqualTheUninterruptedRunBitForBit(@TempDir Path dir) throws Exception {
        Model m = org.ntk4j.nn.Zoo.parse("fcn(depth=1,width=8,out=3)");
        int n = 27;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = (i * 7) % 3;
        }
        int[] in = {5};
        org.ntk4j.train.TrainConfig c = org.ntk4j.train.TrainConfig.builder()
                .optimizer(org.ntk4j.train.Optimizer.adam(0.9, 0.99, 1e-7, 1e-3))
                .schedule(org.ntk4j.train.Schedule.step(1, 0.5)).learningRate(0.05).batchSize(4).epochs(3).seed(21)
                .checkpointEverySteps(3).checkpointEpochs(java.util.Set.of(0, 2)).build();
        Path ck = dir.resolve("ck");
        Files.createDirectories(ck);
        List<String> names = new ArrayList<>();
        org.ntk4j.train.Listener save = new org.ntk4j.train.Listener() {
            @Override
            public void checkpoint(TrainState state, String name) throws java.io.IOException {
                Checkpoints.save(state, ck, name);
                names.add(name);
            }
        };
        try (Params init = m.init(4, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 5, n, 5);
             Tensor xt = Tensor.randomNormal(DType.F32, 6, 6, 5);
             org.ntk4j.train.TrainResult full = org.ntk4j.train.Trainer.train(m, init,
                     new org.ntk4j.train.Examples(x, labels, 3),
                     new org.ntk4j.train.Examples(xt, new int[] {0, 1, 2, 2, 1, 0}, 3), c, save)) {
            org.ntk4j.train.Examples train = new org.ntk4j.train.Examples(x, labels, 3);
            org.ntk4j.train.Examples test = new org.ntk4j.train.Examples(xt, new int[] {0, 1, 2, 2, 1, 0}, 3);
            // 7 steps per epoch (the last of 3 examples), 21 in all
            assertThat(names).containsExactly("epoch-0000", "step-000003", "step-000006", "step-000009",
                    "step-000012", "epoch-0002", "step-000015", "step-000018", "epoch-0003");
            for (String name : names) {
                assertResumeEquals(m, ck, name, train, test, c, full);
            }
            assertThat(Checkpoints.latest(ck, note -> { })).isEqualTo("epoch-0003");
            // killed while writing epoch-0003's parameters: its temporary file, not its name
            Path params = ck.resolve("epoch-0003.npz");
            Path state = ck.resolve("epoch-0003" + Checkpoints.STATE_SUFFIX);
            byte[] bytes = Files.readAllBytes(params);
            Files.delete(state);
            Files.delete(params);
            Files.write(ck.resolve(".epoch-0003.npz.tmp-1f2e3d"), Arrays.copyOf(bytes, bytes.length / 3));
            assertThat(Checkpoints.latest(ck, note -> { })).isEqualTo("step-000018");
            assertResumeEquals(m, ck, "step-000018", train, test, c, full);
            // killed between its parameters and its state
            Files.write(params, bytes);
            List<String> notes = new ArrayList<>();
            assertThat(Checkpoints.latest(ck, notes::add)).isEqualTo("step-000018");
            assertThat(notes).isEmpty();
            assertResumeEquals(m, ck, Checkpoints.latest(ck, note -> { }), train, test, c, full);
        }
    }

    private static void assertResumeEquals(Model m, Path ck, String name, org.ntk4j.train.Examples train,
            org.ntk4j.train.Examples test, org.ntk4j.train.TrainConfig c, org.ntk4j.train.TrainResult full)
            throws Exception {
        try (TrainState s = Checkpoints.load(ck, name, m, new int[] {5}, DType.F32);
             org.ntk4j.train.TrainResult r = org.ntk4j.train.Trainer.resume(m, s, train, test, c,
                     org.ntk4j.train.Listener.NONE)) {
            for (String k : full.params().tensors().keySet()) {
                assertThat(r.params().get(k).toFloatArray()).as("%s from %s", k, name)
                        .containsExactly(full.params().get(k).toFloatArray());
            }
            assertThat(r.curves()).as(name).hasSize(4);
            for (int e = 0; e < 4; e++) {
                EpochMetrics a = r.curves().get(e);
                EpochMetrics b = full.curves().get(e);
                assertThat(new double[] {a.step(), a.learningRate(), a.trainLoss(), a.testLoss(), a.testAccuracy()})
                        .as("%s epoch %d", name, e).containsExactly(b.step(), b.learningRate(), b.trainLoss(),
                                b.testLoss(), b.testAccuracy());
            }
        }
    }

    /**
     * Of two parameter files for one stem, a damaged one (a copy cut short) is not its checkpoint's: the state file's
     * digest names the other, which is found whatever order the names sort in. Found in review (2026-12-07): the
     * digests were compared in name order and the first damaged file's refusal passed the whole checkpoint over
     * (F.NPZ sorts before F.npz), so a resume fell back to an older checkpoint or found none.
     */
    @Test
    void aDamagedSecondParameterFileDoesNotHideTheCheckpoint(@TempDir Path dir) throws Exception {
        Path lower = dir.resolve("F.npz");
        try (TrainState s = new TrainState(NET.init(3, IN, DType.F64), Map.of(), 2, 0, 8, 0, 0, List.of(),
                "sgd, loss mse")) {
            Checkpoints.save(s, lower, Map.of("model", "net"));
        }
        byte[] whole = Files.readAllBytes(lower);
        Files.write(dir.resolve("F.NPZ"), java.util.Arrays.copyOf(whole, whole.length / 2));
        List<String> notes = new java.util.ArrayList<>();
        assertThat(Checkpoints.latest(dir, notes::add)).isEqualTo("F");
        assertThat(notes).isEmpty();
        assertThat(Checkpoints.paramsFile(dir, "F")).isEqualTo(lower);
        try (TrainState back = Checkpoints.load(dir, "F", NET, IN, DType.F64)) {
            assertThat(back.step()).isEqualTo(8);
        }
    }
}
