package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npz;
import org.ntk4j.io.NpyArray;

/** {@code ntk4j train}: accuracy on the embedded data, SIGKILL and --resume, outputs. */
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
        String[] again = CliRuns.run(2, "train", "--epochs", "1", "--quiet", "--log", dir.resolve("log.json").toString());
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
        Map<String, NpyArray> a = Npz.read(full);
        Map<String, NpyArray> b = Npz.read(resumed);
        assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
        for (String k : a.keySet()) {
            assertThat(b.get(k).toDoubleArray()).as(k).containsExactly(a.get(k).toDoubleArray());
        }
    }
}
