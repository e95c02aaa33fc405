package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Npz;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * {@code bench resnet}'s PyTorch peer computes ntk4j's kernel: ResNet-18 (O = 3) on two 32×32×3 inputs with
 * random batch-norm statistics, the weights written in torchvision's names and layouts
 * ({@link ResNetBench#writeTorchvisionWeights}) and loaded by {@code torch_resnet_peer.py} into torchvision's
 * model in eval mode. NTK-vector products agree within the benchmark's tolerance (1e-4); PyTorch's Jacobian
 * contraction within 1e-3, its own float32 error on this network (its float32 and float64 kernels differ by
 * ~1e-4 here, 8e-4 at 224×224). Needs /usr/bin/python3 with torch and torchvision; fails, not skips, with
 * {@code NTK4J_REQUIRE_TORCH=1} (CI).
 */
class ResNetPeerTest {
    @TempDir
    Path dir;


    @ParameterizedTest
    @CsvSource({"vp, 1e-4", "jc, 1e-3"})
    void theTorchvisionPeerComputesNtk4jsKernel(String method, double tolerance) throws Exception {
        boolean torch = PeersBench.pythonImports("torch, torchvision");
        assertThat(torch || !"1".equals(System.getenv("NTK4J_REQUIRE_TORCH")))
                .as("NTK4J_REQUIRE_TORCH=1 but %s cannot import torch and torchvision", PeersBench.PYTHON).isTrue();
        assumeTrue(torch, "SKIPPED: " + PeersBench.PYTHON + " cannot import torch and torchvision; apt-get install "
                + "python3-torch python3-torchvision to run it.");
        for (String name : new String[] {"torch_resnet_peer.py", "torch_ntk_peer.py"}) {
            try (InputStream s = PeersBench.class.getResourceAsStream(name)) {
                Files.copy(s, dir.resolve(name));
            }
        }
        Model base = Zoo.parse("resnet18(out=3)");
        int[] in = {32, 32, 3};
        try (Params p = base.init(3, in, DType.F32); Tensor x = Tensor.randomNormal(DType.F32, 4, 2, 32, 32, 3)) {
            Random r = new Random(7);
            for (Map.Entry<String, Tensor> e : p.buffers().entrySet()) {
                for (int i = 0; i < e.getValue().size(); i++) {
                    e.getValue().setFlat(i, e.getKey().endsWith("running_var") ? 0.5 + r.nextDouble()
                            : 0.2 * r.nextGaussian());
                }
            }
            Model model = base.withBuffers(p.buffers());
            ResNetBench.writeTorchvisionWeights(new ResNetBench.Setting("resnet18", 3, 2), p, dir.resolve("p.npz"));
            assertThat(Npz.readHeaders(dir.resolve("p.npz")).keySet()).contains("conv1.weight",
                    "layer2.0.downsample.1.running_var", "fc.bias");
            Npy.write(dir.resolve("x.npy"), x);
            Process proc = new ProcessBuilder(List.of(PeersBench.PYTHON, dir.resolve("torch_resnet_peer.py").toString(),
                    "--params", dir.resolve("p.npz").toString(), "--x", dir.resolve("x.npy").toString(), "--arch",
                    "resnet18", "--out-dim", "3", "--method", method, "--threads", "1", "--warmup", "0", "--reps", "1",
                    "--out", dir.toString())).redirectErrorStream(true).start();
            String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(proc.waitFor(600, TimeUnit.SECONDS) && proc.exitValue() == 0).as(out).isTrue();
            String json = PeersBench.lastJsonLine(out);
            assertThat(PeersBench.jsonString(json, "status")).as(out).isEqualTo("ran");
            try (Tensor expected = EmpiricalNtk.of(model, p).traceAxes().ntk(x, null);
                 Tensor k = Npy.readTensor(Path.of(PeersBench.jsonString(json, "kernel")), DType.F32)) {
                assertThat(k.shape()).containsExactly(2, 2, 3, 3);
                assertThat(KernelAgreement.relativeError(k, expected)).isLessThan(tolerance);
            }
        }
    }

    @Test
    void settingsAndLayouts() {
        assertThat(ResNetBench.Setting.parse("resnet50:8:4")).isEqualTo(new ResNetBench.Setting("resnet50", 8, 4));
        assertThat(ResNetBench.Setting.parse("wide_resnet50_2:8:4").depth()).isEqualTo(50);
        assertThatThrownBy(() -> ResNetBench.Setting.parse("resnet18:8")).hasMessageContaining("ARCH:O:N");
        // HWIO [1, 2, 3, 4] to OIHW [4, 3, 1, 2]: element (h, w, i, o) lands at (o, i, h, w)
        double[] v = new double[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        try (Tensor hwio = Tensor.of(DType.F32, v, 1, 2, 3, 4); Tensor oihw = ResNetBench.hwioToOihw(hwio);
             Tensor m = Tensor.of(DType.F32, new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor mt = ResNetBench.transpose(m)) {
            assertThat(oihw.shape()).containsExactly(4, 3, 1, 2);
            assertThat(oihw.get(3, 2, 0, 1)).isEqualTo(hwio.get(0, 1, 2, 3));
            assertThat(oihw.get(1, 0, 0, 0)).isEqualTo(hwio.get(0, 0, 0, 1));
            assertThat(mt.toDoubleArray()).containsExactly(1, 4, 2, 5, 3, 6);
        }
    }
}
