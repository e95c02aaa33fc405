package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyArray;
import org.ntk4j.io.NpyDType;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The peers compute the same kernel as ntk4j on tiny networks (float32, relative Frobenius error within the
 * benchmark's tolerance): DJL always (its libtorch comes in a jar, offline); the PyTorch script only where
 * /usr/bin/python3 has torch (Debian's python3-torch) — elsewhere those cases are reported as skipped, saying so.
 */
class PeerAgreementTest {
    private static boolean torch;

    @BeforeAll
    static void probeTorch() {
        torch = PeersBench.pythonImports("torch");
        DjlPeer.configure(1);
    }

    private static Tensor ntk4j(Model model, Params params, Tensor x) {
        return EmpiricalNtk.of(model, params).traceAxes().ntk(x, null);
    }

    @ParameterizedTest
    @CsvSource({"fcn, 'fcn(depth=2,width=8,out=3)', 5, 3", "cnn, 'cnn(depth=2,channels=4,out=3)', '5,5,2', 3",
        "fcn, 'fcn(depth=2,width=8,out=3)', 5, 2", "cnn, 'cnn(depth=2,channels=4,out=3)', '5,5,2', 1"})
    void djlPeerAgreesWithNtk4jInOneBlockOrSeveral(String arch, String spec, String input, int block) {
        Model model = Zoo.parse(spec);
        int[] in = ints(input);
        try (Params params = model.init(3, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 4, shape(3, in));
             Tensor expected = ntk4j(model, params, x)) {
            DjlPeer.Run run = DjlPeer.run(arch, params, x, 1.5, 0.05, 0, 1, block);
            try (Tensor k = run.kernel()) {
                assertThat(k.shape()).containsExactly(expected.shape());
                assertThat(KernelAgreement.relativeError(k, expected)).isLessThan(KernelAgreement.TOLERANCE);
            }
        }
    }

    /**
     * The DJL peer's kernel does not depend on when the garbage collector runs. With its scales passed as
     * {@code mul(Number)}, DJL freed each scalar's buffer while autograd still held it: under a thread calling
     * {@code System.gc()} every millisecond, 299 of 300 kernels were wrong (and about one in a hundred on a
     * loaded machine without it).
     */
    @Test
    void djlPeerAgreesWhileTheCollectorRuns() throws InterruptedException {
        Model model = Zoo.parse("cnn(depth=2,channels=4,out=3)");
        int[] in = {5, 5, 2};
        Thread collector = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                System.gc();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "gc-every-millisecond");
        collector.setDaemon(true);
        try (Params params = model.init(3, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 4, shape(3, in));
             Tensor expected = ntk4j(model, params, x)) {
            collector.start();
            for (int run = 0; run < 5; run++) {
                try (Tensor k = DjlPeer.run("cnn", params, x, 1.5, 0.05, 0, 1, 1).kernel()) {
                    assertThat(KernelAgreement.relativeError(k, expected)).as("run %d", run)
                            .isLessThan(KernelAgreement.TOLERANCE);
                }
            }
        } finally {
            collector.interrupt();
            collector.join();
        }
    }

    @ParameterizedTest
    @CsvSource({"fcn, 'fcn(depth=2,width=8,out=3)', 5, jc", "fcn, 'fcn(depth=2,width=8,out=3)', 5, vp",
        "cnn, 'cnn(depth=2,channels=4,out=3)', '5,5,2', jc", "cnn, 'cnn(depth=2,channels=4,out=3)', '5,5,2', vp"})
    void pytorchPeerAgreesWithNtk4j(String arch, String spec, String input, String method, @TempDir Path dir)
            throws IOException, InterruptedException {
        // CI (.ci/run) installs python3-torch and sets NTK4J_REQUIRE_TORCH=1: there a missing torch fails.
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch (apt-get install python3-torch)",
                        PeersBench.PYTHON)
                .isTrue();
        assumeTrue(torch, "SKIPPED: PyTorch is absent (" + PeersBench.PYTHON + " cannot import torch); the PyTorch "
                + "peer's agreement is not checked here. apt-get install python3-torch to run it.");
        Model model = Zoo.parse(spec);
        int[] in = ints(input);
        Path script = dir.resolve("torch_ntk_peer.py");
        try (InputStream s = PeersBench.class.getResourceAsStream("torch_ntk_peer.py")) {
            Files.copy(s, script);
        }
        try (Params params = model.init(3, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 4, shape(3, in));
             Tensor expected = ntk4j(model, params, x)) {
            ParamsFile.save(params, dir.resolve("p.npz"));
            Npy.write(dir.resolve("x.npy"), x);
            Process p = new ProcessBuilder(List.of(PeersBench.PYTHON, script.toString(), "--params",
                    dir.resolve("p.npz").toString(), "--x", dir.resolve("x.npy").toString(), "--arch", arch,
                    "--w-std", "1.5", "--b-std", "0.05", "--method", method, "--threads", "1", "--warmup", "0",
                    "--reps", "1", "--out", dir.toString())).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as(out).isTrue();
            String json = PeersBench.lastJsonLine(out);
            assertThat(PeersBench.jsonString(json, "status")).isEqualTo("ran");
            try (Tensor k = Npy.readTensor(Path.of(PeersBench.jsonString(json, "kernel")), DType.F32)) {
                assertThat(k.shape()).containsExactly(expected.shape());
                assertThat(KernelAgreement.relativeError(k, expected)).isLessThan(KernelAgreement.TOLERANCE);
            }
        }
    }

    @Test
    void pytorchTrainingScriptRunsOneEpochAndPrintsItsLine(@TempDir Path dir) throws IOException,
            InterruptedException {
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch (apt-get install python3-torch)",
                        PeersBench.PYTHON)
                .isTrue();
        assumeTrue(torch, "SKIPPED: PyTorch is absent (" + PeersBench.PYTHON + " cannot import torch); the "
                + "train-mlp script is not run here. apt-get install python3-torch to run it.");
        Path script = dir.resolve(TrainMlpBench.SCRIPT);
        try (InputStream s = TrainMlpBench.class.getResourceAsStream(TrainMlpBench.SCRIPT)) {
            Files.copy(s, script);
        }
        long[] labels = new long[512];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 10;
        }
        try (Tensor x = Tensor.randomNormal(DType.F32, 5, 512, 784)) {
            Npy.write(dir.resolve("x.npy"), x);
        }
        Npy.write(dir.resolve("y.npy"), NpyArray.ofLongs(NpyDType.INT64, labels, labels.length));
        Process p = new ProcessBuilder(List.of(PeersBench.PYTHON, script.toString(), "--x",
                dir.resolve("x.npy").toString(), "--y", dir.resolve("y.npy").toString(), "--batch", "128",
                "--threads", "1", "--epochs", "1")).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0).as(out).isTrue();
        String ready = out.lines().filter(l -> l.contains("\"status\"")).findFirst().orElseThrow();
        assertThat(PeersBench.jsonString(ready, "status")).isEqualTo("ready");
        assertThat(PeersBench.jsonString(ready, "parameters")).isEqualTo("669706");
        assertThat(TrainMlpBench.blasOf(ready)).contains("BLAS_INFO=");
        List<Double> rates = out.lines().map(TrainMlpBench::epochRate).filter(r -> !r.isNaN()).toList();
        assertThat(rates).as(out).hasSize(1);
        assertThat(rates.get(0)).isPositive();
    }

    private static int[] ints(String s) {
        String[] p = s.split(",");
        int[] r = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            r[i] = Integer.parseInt(p[i].trim());
        }
        return r;
    }

    private static int[] shape(int n, int[] in) {
        int[] s = new int[in.length + 1];
        s[0] = n;
        System.arraycopy(in, 0, s, 1, in.length);
        return s;
    }
}
